/*
 * Knowledge Pay offers: an offer link (any page's URL with ?offer=CODE) applies the offer.
 *
 * The code is kept for this tab (sessionStorage), so it follows the reader from the course
 * page to a lesson's paywall. For every checkout form on the page, the paywall is asked
 * what the offer gives on that product in the reader's language and currency
 * (GET /api/offer, answered from Stripe at request time: no offer text is in the built
 * site). Where it applies, the form gets a hidden `offer` field, the offer price, what it is
 * off and its last day are shown above the button, and the button says the offer price;
 * where it does not, the paywall's sentence says why (expired, used up, not for this
 * course) and the form buys at the full price. Without this file the forms still work.
 */
(function () {
  "use strict";

  var CODE = /^[A-Za-z0-9][A-Za-z0-9-]{2,39}$/;
  var FORMS = 'form[action="/api/checkout"]';
  var GONE = { unknown: true, ended: true, expired: true, used_up: true };

  function stored(value) {
    try {
      if (value === undefined) {
        return window.sessionStorage.getItem("kp_offer");
      }
      if (value === null) {
        window.sessionStorage.removeItem("kp_offer");
      } else {
        window.sessionStorage.setItem("kp_offer", value);
      }
    } catch (e) { /* storage disabled: the link still works on this page */ }
    return null;
  }

  var fromUrl = null;
  try { fromUrl = new URLSearchParams(location.search).get("offer"); } catch (e) { fromUrl = null; }
  if (fromUrl && CODE.test(fromUrl)) {
    stored(fromUrl.toUpperCase());
  }
  var code = fromUrl && CODE.test(fromUrl) ? fromUrl.toUpperCase() : stored();
  var forms = document.querySelectorAll(FORMS);
  if (!code || !forms.length || !window.fetch) {
    return;
  }

  function field(form, name) {
    var input = form.querySelector('input[name="' + name + '"]');
    return input ? input.value : "";
  }

  function note(form, className, text) {
    var p = document.createElement("p");
    p.className = className;
    p.setAttribute("data-kp-offer-note", "");
    p.textContent = text;
    form.parentNode.insertBefore(p, form);
    return p;
  }

  function apply(form, offer) {
    var input = form.querySelector('input[name="offer"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "offer";
      form.appendChild(input);
    }
    input.value = offer.code;
    note(form, "kp-offer__deal", offer.deal);
    var button = form.querySelector("button[type=submit], button");
    if (button) {
      button.textContent = offer.button;
    }
  }

  var shown = {};
  var answers = [];
  function refuse(form, answer) {
    var input = form.querySelector('input[name="offer"]');
    if (input) {
      input.parentNode.removeChild(input);
    }
    var block = form.closest(".kp-offer, .kp-paywall, .kp-pricing") || form.parentNode;
    if (answer.message && !shown[answer.message]) {
      shown[answer.message] = true;
      var p = document.createElement("p");
      p.className = "kp-offer__refused";
      p.setAttribute("data-kp-offer-note", "");
      p.setAttribute("role", "status");
      p.textContent = answer.message;
      block.insertBefore(p, block.firstChild);
    }
  }

  Array.prototype.forEach.call(forms, function (form) {
    var query = new URLSearchParams({ code: code, lang: field(form, "lang") });
    ["course", "tier", "interval"].forEach(function (name) {
      var value = field(form, name);
      if (value) {
        query.set(name, value);
      }
    });
    var asked = fetch("/api/offer?" + query.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        return type.indexOf("json") >= 0 ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && answer.ok) {
          apply(form, answer);
        } else if (answer && answer.reason) {
          refuse(form, answer);
        }
        return answer;
      })
      .catch(function () { return null; /* no paywall here: a static page */ });
    answers.push(asked);
  });
  Promise.all(answers).then(function (all) {
    var gone = all.every(function (answer) { return answer && GONE[answer.reason]; });
    if (gone) {
      stored(null); // no form can use it: later pages sell at the full price
    }
    document.documentElement.setAttribute("data-kp-offer", gone ? "refused" : "checked");
  });
})();
