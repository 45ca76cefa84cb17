/*
 * Knowledge Pay: personalise the static pages for a signed-in member.
 *
 * Everything works without this file (links and plain forms). With it, the header's
 * "Sign in" link becomes the member's e-mail linking to /account/, and lessons, offers and
 * pricing cards the member already owns are marked (class "kp-unlocked"). On a static host
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
      if (!me || !me.authenticated) {
        return;
      }
      showMember(me);
      markOwned(me.entitlements || []);
    })
    .catch(function () { /* no paywall here: stay a static page */ });
})();
