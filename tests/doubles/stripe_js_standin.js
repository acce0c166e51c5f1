/* A stand-in for Stripe.js v3 (https://js.stripe.com/v3/), served by the Stripe double at
 * GET /v3/ so the guest page runs offline in sandbox mode (CONTRACT.md Part 3, "Guest
 * links"; docs/guest-page.md). Only the calls the guest page makes:
 *
 *   const stripe = Stripe(publishableKey);
 *   const card = stripe.elements().create('card');  card.mount('#card');
 *   card.on('change', (event) => …)                  // event.complete, event.error
 *   await stripe.confirmCardPayment(clientSecret, {payment_method: {card}})
 *       → {paymentIntent} or {error: {type, code, decline_code?, message}}
 *   await stripe.confirmCardSetup(clientSecret, {payment_method: {card}}) → {setupIntent} | {error}
 *
 * Real Elements draws the card form in Stripe's iframe; this one draws three plain inputs in
 * the mount point (number, MM / YY, CVC). Like Stripe.js, the card number never reaches the
 * merchant: a test card number becomes the double's test PaymentMethod (pm_card_visa for
 * 4242 4242 4242 4242, pm_card_chargeDeclined for 4000 0000 0000 0002, …) here, and the
 * confirm goes to the double's own /v1 with the publishable key and the client secret.
 * @@API_BASE@@ is filled in by the double: the prefix its /v1 is reached under.
 */
(function () {
  'use strict';
  var API_BASE = '@@API_BASE@@';
  var TEST_CARDS = {
    '4242424242424242': 'pm_card_visa',
    '5555555555554444': 'pm_card_mastercard',
    '4000000000000002': 'pm_card_chargeDeclined',
    '4000000000009995': 'pm_card_chargeDeclinedInsufficientFunds',
    '4000000000000341': 'pm_card_chargeCustomerFail'
  };
  var INVALID_NUMBER = {type: 'validation_error', code: 'invalid_number',
                        message: 'Your card number is invalid.'};
  var INCOMPLETE_NUMBER = {type: 'validation_error', code: 'incomplete_number',
                           message: 'Your card number is incomplete.'};
  var INCOMPLETE_EXPIRY = {type: 'validation_error', code: 'incomplete_expiry',
                           message: "Your card's expiration date is incomplete."};
  var PAST_EXPIRY = {type: 'validation_error', code: 'invalid_expiry_year_past',
                     message: "Your card's expiration year is in the past."};
  var INCOMPLETE_CVC = {type: 'validation_error', code: 'incomplete_cvc',
                        message: "Your card's security code is incomplete."};

  function digits(s) { return (s || '').replace(/\D/g, ''); }

  function luhn(number) {
    var sum = 0;
    for (var i = 0; i < number.length; i++) {
      var d = Number(number[number.length - 1 - i]);
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return number.length > 0 && sum % 10 === 0;
  }

  function CardElement() {
    this._handlers = {};
    this._inputs = null;
  }
  CardElement.prototype._field = function (name, label, placeholder, autocomplete, size) {
    var input = document.createElement('input');
    input.type = 'text';
    input.inputMode = 'numeric';
    input.name = name;
    input.placeholder = placeholder;
    input.autocomplete = autocomplete;
    input.setAttribute('aria-label', label);
    input.size = size;
    input.className = 'StripeElement-input StripeElement-' + name;
    var self = this;
    input.addEventListener('input', function () { self._emitChange(); });
    input.addEventListener('focus', function () { self._emit('focus', {elementType: 'card'}); });
    input.addEventListener('blur', function () { self._emit('blur', {elementType: 'card'}); });
    return input;
  };
  CardElement.prototype.mount = function (target) {
    var host = typeof target === 'string' ? document.querySelector(target) : target;
    if (!host) throw new Error('Stripe stand-in: no element to mount the card on');
    var box = document.createElement('div');
    box.className = 'StripeElement';
    this._inputs = {
      number: this._field('cardnumber', 'Card number', '1234 1234 1234 1234', 'cc-number', 19),
      expiry: this._field('exp-date', 'Expiration date (MM / YY)', 'MM / YY', 'cc-exp', 7),
      cvc: this._field('cvc', 'Security code (CVC)', 'CVC', 'cc-csc', 4)
    };
    box.appendChild(this._inputs.number);
    box.appendChild(this._inputs.expiry);
    box.appendChild(this._inputs.cvc);
    host.appendChild(box);
    this._box = box;
    this._emit('ready', {elementType: 'card'});
  };
  CardElement.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };
  CardElement.prototype.focus = function () { if (this._inputs) this._inputs.number.focus(); };
  CardElement.prototype.clear = function () {
    if (!this._inputs) return;
    this._inputs.number.value = this._inputs.expiry.value = this._inputs.cvc.value = '';
    this._emitChange();
  };
  CardElement.prototype.unmount = CardElement.prototype.destroy = function () {
    if (this._box && this._box.parentNode) this._box.parentNode.removeChild(this._box);
    this._inputs = null;
  };
  CardElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).forEach(function (h) { h(payload); });
  };
  // What Stripe's change event says: complete, or the first problem with what was typed.
  CardElement.prototype._check = function (final) {
    if (!this._inputs) return {error: INCOMPLETE_NUMBER};
    var number = digits(this._inputs.number.value);
    if (number.length < 16) return final || number.length === 0 ? {error: INCOMPLETE_NUMBER} : {};
    if (!luhn(number)) return {error: INVALID_NUMBER};
    var exp = digits(this._inputs.expiry.value);
    if (exp.length < 4) return final || exp.length > 0 ? {error: INCOMPLETE_EXPIRY} : {};
    var month = Number(exp.slice(0, 2));
    var year = 2000 + Number(exp.slice(2, 4));
    var today = new Date();
    if (month < 1 || month > 12) return {error: INCOMPLETE_EXPIRY};
    if (year < today.getFullYear() ||
        (year === today.getFullYear() && month < today.getMonth() + 1)) return {error: PAST_EXPIRY};
    if (digits(this._inputs.cvc.value).length < 3) {
      return final || this._inputs.cvc.value ? {error: INCOMPLETE_CVC} : {};
    }
    return {complete: true, number: number};
  };
  CardElement.prototype._emitChange = function () {
    var state = this._check(false);
    this._emit('change', {elementType: 'card', empty: !digits(this._inputs.number.value),
                          complete: !!state.complete, error: state.error});
  };

  function Elements() {}
  Elements.prototype.create = function (type) {
    if (type !== 'card') throw new Error('Stripe stand-in: only the card element is served');
    return new CardElement();
  };

  function form(params) {
    return Object.keys(params).map(function (k) {
      return encodeURIComponent(k) + '=' + encodeURIComponent(params[k]);
    }).join('&');
  }

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey);
    if (!publishableKey || publishableKey.indexOf('pk_') !== 0) {
      throw new Error('Stripe stand-in: a publishable key (pk_…) is required');
    }
    this._key = publishableKey;
  }
  Stripe.prototype.elements = function () { return new Elements(); };
  Stripe.prototype._confirm = function (kind, clientSecret, data) {
    var card = data && data.payment_method && data.payment_method.card;
    var result = card instanceof CardElement ? card._check(true) : {error: INCOMPLETE_NUMBER};
    if (!result.complete) return Promise.resolve({error: result.error});
    var pm = TEST_CARDS[result.number];
    if (!pm) {
      return Promise.resolve({error: {type: 'card_error', code: 'card_declined',
                                      decline_code: 'test_mode_live_card',
                                      message: 'Your card was declined. Your request was in test ' +
                                               'mode, but used a non test card.'}});
    }
    var id = String(clientSecret).split('_secret_')[0];
    var path = kind === 'setup' ? '/v1/setup_intents/' : '/v1/payment_intents/';
    return fetch(API_BASE + path + encodeURIComponent(id) + '/confirm', {
      method: 'POST',
      headers: {'Authorization': 'Bearer ' + this._key,
                'Content-Type': 'application/x-www-form-urlencoded'},
      body: form({client_secret: clientSecret, payment_method: pm})
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) return {error: body.error || {type: 'api_error', message: 'Stripe error'}};
        return kind === 'setup' ? {setupIntent: body} : {paymentIntent: body};
      });
    }, function () {
      return {error: {type: 'api_connection_error',
                      message: 'We could not reach Stripe. Please try again.'}};
    });
  };
  Stripe.prototype.confirmCardPayment = function (clientSecret, data) {
    return this._confirm('payment', clientSecret, data);
  };
  Stripe.prototype.confirmCardSetup = function (clientSecret, data) {
    return this._confirm('setup', clientSecret, data);
  };

  window.Stripe = Stripe;
})();
