// Passkeys in the console: a form marked `data-passkey` asks this site's API for a WebAuthn
// challenge (`data-challenge`, a POST with the pending sign-in's token when the form has a
// `pending` field, otherwise with the session cookie), lets the browser create or use a
// passkey, puts its answer (JSON, byte strings in unpadded base64url) in the form's
// `passkey` field and submits the form to the console, which verifies it. A form marked
// `data-passkey="discover"` signs in with a passkey alone: its challenge names no
// credential (the browser offers the passkeys it holds for this site) and comes with a
// `ceremony`, put in the form's `ceremony` field. A refusal before that is shown in the
// form's `[data-passkey-problem]` element; `step-up-required` goes to the step-up page
// first. A form marked `data-passkey="enrol"` registers the first passkey of an account
// with no password: its `token` field takes the enrolment link's fragment (then dropped
// from the address bar and history), and the challenge is asked with that token.
(function () {
  'use strict';
  function bytes(text) {
    var b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function text(buffer) {
    if (!buffer) return null;
    var view = new Uint8Array(buffer);
    var raw = '';
    for (var i = 0; i < view.length; i++) raw += String.fromCharCode(view[i]);
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function clean(options) {
    Object.keys(options).forEach(function (k) {
      if (options[k] === null) delete options[k];
    });
    return options;
  }
  function answerOf(credential, create) {
    var r = credential.response;
    var response = create
      ? { attestationObject: text(r.attestationObject), clientDataJSON: text(r.clientDataJSON) }
      : {
          authenticatorData: text(r.authenticatorData),
          clientDataJSON: text(r.clientDataJSON),
          signature: text(r.signature),
          userHandle: text(r.userHandle),
        };
    return { id: credential.id, rawId: text(credential.rawId), type: credential.type, response: response, extensions: {} };
  }
  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    var problem = form.querySelector('[data-passkey-problem]');
    var token = form.elements.token;
    if (token && !token.value && window.location.hash.length > 1) {
      token.value = decodeURIComponent(window.location.hash.slice(1));
      window.history.replaceState(null, '', window.location.pathname);
    }
    function show(message) {
      if (!problem) return;
      problem.textContent = message;
      problem.hidden = false;
    }
    form.addEventListener('submit', function (event) {
      if (form.elements.passkey.value) return;
      event.preventDefault();
      var create = form.dataset.passkey === 'register' || form.dataset.passkey === 'enrol';
      var body = token
        ? JSON.stringify({ token: token.value })
        : form.elements.pending ? JSON.stringify({ pending_token: form.elements.pending.value }) : null;
      var request = { method: 'POST', credentials: 'same-origin', headers: {} };
      if (body) {
        request.headers['Content-Type'] = 'application/json';
        request.body = body;
      }
      fetch(form.dataset.challenge, request)
        .then(function (response) {
          return response.json().then(function (json) {
            if (response.ok) return json;
            if (json.type === 'urn:rampart:problem:step-up-required') {
              window.location.assign('/console/account/step-up?return=' + encodeURIComponent(window.location.pathname));
              return null;
            }
            throw new Error(json.detail || json.title || 'the server refused');
          });
        })
        .then(function (options) {
          if (!options) return null;
          if (options.ceremony) form.elements.ceremony.value = options.ceremony;
          var pk = clean(options.publicKey);
          pk.challenge = bytes(pk.challenge);
          if (create) {
            pk.user.id = bytes(pk.user.id);
            (pk.excludeCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
            return navigator.credentials.create({ publicKey: pk });
          }
          (pk.allowCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
          return navigator.credentials.get({ publicKey: pk });
        })
        .then(function (credential) {
          if (!credential) return;
          form.elements.passkey.value = JSON.stringify(answerOf(credential, create));
          form.submit();
        })
        .catch(function (e) {
          show('The passkey did not work: ' + (e && e.message ? e.message : e));
        });
    });
  });
})();
