/*
 * Knowledge Pay role prices: a signed-in member carrying a price role (`kp members role`)
 * sees their price on every checkout form, and why.
 *
 * kp.js announces who is signed in (`kp:me`, also kept as window.kpMe); for a member with
 * a role this asks the paywall for their prices (GET /api/prices, answered at request time:
 * no role price or role name is in the built site), then above each form it sells at a
 * role price it writes which price applies and why (the paywall's sentence naming the
 * role and everyone else's price), updates the price shown and the button. A form an offer link applied
 * to (offers.js) keeps the offer's button: /api/offer quotes the offer off the role price.
 * Gift forms keep everyone's price (the gift is for someone else). Checkout charges the
 * role price whether or not this file ran.
 */
(function () {
  "use strict";

  var FORMS = 'form[action="/api/checkout"]:not(.kp-form--gift)';

  function field(form, name) {
    var input = form.querySelector('input[name="' + name + '"]');
    return input ? input.value : "";
  }

  function keyOf(form) {
    if (field(form, "course")) {
      return "course:" + field(form, "course");
    }
    if (field(form, "bundle")) {
      return "bundle:" + field(form, "bundle");
    }
    if (field(form, "tier")) {
      return "tier:" + field(form, "tier") + ":" + (field(form, "interval") || "month");
    }
    return "";
  }

  function show(form, price) {
    var note = document.createElement("p");
    note.className = "kp-role__price";
    note.setAttribute("data-kp-role-note", "");
    note.textContent = price.note;
    form.parentNode.insertBefore(note, form);
    var label = form.parentNode.querySelector(".kp-offer__price");
    if (label && form.parentNode.querySelectorAll(FORMS).length === 1) {
      label.textContent = price.price;
    }
    var button = form.querySelector("button[type=submit], button");
    if (button && !form.querySelector('input[name="offer"]')) {
      button.textContent = price.button;
    }
  }

  function apply(me) {
    var forms = document.querySelectorAll(FORMS);
    if (!me || !me.authenticated || !me.role || !forms.length || !window.fetch) {
      return;
    }
    var lang = document.documentElement.getAttribute("lang") || "";
    fetch("/api/prices?lang=" + encodeURIComponent(lang), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        return response.ok && type.indexOf("json") >= 0 ? response.json() : null;
      })
      .then(function (answer) {
        var prices = (answer && answer.prices) || {};
        Array.prototype.forEach.call(forms, function (form) {
          var price = prices[keyOf(form)];
          if (price) {
            show(form, price);
          }
        });
        document.documentElement.setAttribute("data-kp-role", answer && answer.role ? answer.role : "");
      })
      .catch(function () { /* no paywall here: everyone's prices stay */ });
  }

  if (window.kpMe) {
    apply(window.kpMe);
  } else {
    document.addEventListener("kp:me", function (event) { apply(event.detail); }, { once: true });
  }
})();
