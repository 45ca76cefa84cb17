/*
 * Knowledge Pay growth: invite links, funnel attribution and a privacy-friendly beacon.
 *
 * - `?ref=CODE` (a member's invite link or a partner's link) is kept for this tab in
 *   sessionStorage (no cookie), and every sign-in and checkout form gets it as a hidden `ref`
 *   field, so the sign-up or purchase a few pages later is still credited.
 * - The free article being read (a page with a community CTA) is kept the same way and sent
 *   as `via`: the paywall records which article a sign-up or purchase came from.
 * - The beacon counts a page view on load and a click on a call to action, with
 *   navigator.sendBeacon to /api/e: the page path and the event name, nothing else. Nothing
 *   is sent when the browser asks not to be tracked (Do-Not-Track, Global Privacy Control).
 *
 * Everything works without this file: the forms still post and the site stays static.
 */
(function () {
  "use strict";

  var REF = /^[A-Za-z0-9][A-Za-z0-9-]{3,63}$/;
  var FORMS = 'form[action="/api/login"], form[action="/api/checkout"]';
  var CTA = ".kp-cta, .kp-paywall, .kp-offer, .kp-form";

  function storage() {
    try {
      var store = window.sessionStorage;
      store.getItem("kp_ref");
      return store;
    } catch (e) {
      return null; // storage disabled: the query parameter still works on this page
    }
  }
  var store = storage();

  function remember(key, value) {
    try {
      if (store) {
        store.setItem(key, value);
      }
    } catch (e) { /* quota or privacy mode: keep going without it */ }
  }

  function recall(key) {
    try {
      return store ? store.getItem(key) : null;
    } catch (e) {
      return null;
    }
  }

  function queryRef() {
    var match = /[?&]ref=([^&#]*)/.exec(location.search);
    if (!match) {
      return null;
    }
    try {
      var value = decodeURIComponent(match[1].replace(/\+/g, " "));
      return REF.test(value) ? value.toLowerCase() : null;
    } catch (e) {
      return null;
    }
  }

  var fromQuery = queryRef();
  if (fromQuery) {
    remember("kp_ref", fromQuery);
  }
  var ref = fromQuery || recall("kp_ref");
  if (document.querySelector("[data-kp-cta]")) {
    remember("kp_via", location.pathname);
  }
  var via = recall("kp_via");

  function setField(form, name, value) {
    if (!value) {
      return;
    }
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  function decorate(form) {
    setField(form, "ref", ref);
    setField(form, "via", via);
  }

  Array.prototype.forEach.call(document.querySelectorAll(FORMS), decorate);
  // Forms added later (or pages restored from the back/forward cache) get the fields too.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.matches && form.matches(FORMS)) {
      decorate(form);
    }
  }, true);

  var refused =
    navigator.doNotTrack === "1" ||
    window.doNotTrack === "1" ||
    navigator.globalPrivacyControl === true;

  function beacon(name) {
    if (refused || !navigator.sendBeacon) {
      return;
    }
    try {
      navigator.sendBeacon("/api/e", JSON.stringify({ e: name, p: location.pathname }));
    } catch (e) { /* a beacon must never break the page */ }
  }

  beacon("view");
  document.addEventListener("click", function (event) {
    var target = event.target && event.target.closest ? event.target.closest("a, button") : null;
    if (target && target.closest(CTA)) {
      beacon("cta");
    }
  }, true);
})();
