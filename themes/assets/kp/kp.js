/*
 * Knowledge Pay: personalise the static pages for a signed-in member.
 *
 * Everything works without this file (links and plain forms). With it, the header's
 * "Sign in" link becomes the member's e-mail linking to /account/, and lessons, offers and
 * pricing cards the member already owns are marked (class "kp-unlocked"), and the CTA's free
 * sign-up form gives way to what a member does next (their account). On a static host
 * without the paywall, /api/me does not exist and nothing changes.
 */
(function () {
  "use strict";

  var link = document.querySelector("[data-kp-account]");
  if (link && link.getAttribute("href").indexOf("/account/?next=") === 0) {
    // Pages served by the paywall (shells) live at URLs the build did not know; the page's
    // language goes along so the sign-in page answers in it.
    var lang = document.documentElement.getAttribute("lang");
    link.setAttribute(
      "href",
      "/account/?next=" + encodeURIComponent(location.pathname) +
        (lang ? "&lang=" + encodeURIComponent(lang) : "")
    );
  }
  setupSearchScope();
  if (!window.fetch) {
    return;
  }

  function showMember(me) {
    if (!link) {
      return;
    }
    var label = link.querySelector("[data-kp-account-label]");
    if (label) {
      label.textContent = me.email;
    }
    link.setAttribute("href", "/account/");
    link.setAttribute("title", me.email);
    link.setAttribute("aria-label", me.email);
    link.classList.add("kp-account--member");
  }

  // Search covers the page's language unless the reader asked for every language; the
  // choice is kept (localStorage) and applied by the loader in main.html, so switching
  // reloads the page with the query (material opens its search with ?q=).
  function setupSearchScope() {
    var box = document.querySelector("[data-kp-search-scope]");
    if (!box) {
      return;
    }
    var scope = "own";
    try { scope = localStorage.getItem("kp-search-scope") || "own"; } catch (e) { return; }
    Array.prototype.forEach.call(box.querySelectorAll("[data-kp-scope]"), function (node) {
      node.hidden = node.getAttribute("data-kp-scope") !== scope;
    });
    Array.prototype.forEach.call(box.querySelectorAll("[data-kp-search-set]"), function (a) {
      a.addEventListener("click", function (event) {
        event.preventDefault();
        try { localStorage.setItem("kp-search-scope", a.getAttribute("data-kp-search-set")); }
        catch (e) { return; }
        var input = document.querySelector("input[data-md-component=search-query]");
        var url = new URL(location.href);
        url.hash = "";
        if (input && input.value) {
          url.searchParams.set("q", input.value);
        }
        location.replace(url.href);
      });
    });
  }

  function showMemberCta(me) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-kp-signup]"), function (node) {
      node.hidden = true;
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-kp-member]"), function (node) {
      Array.prototype.forEach.call(node.querySelectorAll("[data-kp-member-email]"), function (el) {
        el.textContent = me.email;
      });
      node.hidden = false;
    });
  }

  function markOwned(entitlements) {
    var owned = {};
    entitlements.forEach(function (key) { owned[key] = true; });
    var nodes = document.querySelectorAll("[data-kp-requires]");
    Array.prototype.forEach.call(nodes, function (node) {
      var keys = (node.getAttribute("data-kp-requires") || "").split(/\s+/);
      if (keys.some(function (key) { return owned[key]; })) {
        node.classList.add("kp-unlocked");
      }
    });
  }

  fetch("/api/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      return response.ok && type.indexOf("json") >= 0 ? response.json() : null;
    })
    .then(function (me) {
      // Other scripts (roles.js) act on who is signed in without asking again.
      window.kpMe = me || { authenticated: false };
      document.dispatchEvent(new CustomEvent("kp:me", { detail: window.kpMe }));
      if (!me || !me.authenticated) {
        return;
      }
      showMember(me);
      showMemberCta(me);
      markOwned(me.entitlements || []);
    })
    .catch(function () { /* no paywall here: stay a static page */ });
})();
