// Gatehouse's only script: runs WebAuthn ceremonies for forms marked `data-webauthn`.
// Every form still posts normally; this module only fills its hidden `credential` field.
//
//   data-webauthn="create"  registers a key; options come in data-options
//   data-webauthn="get"     second step; options come in data-options
//   data-webauthn="passkey" "Sign in with a passkey"; options are fetched when clicked

const toBytes = (text) => {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '==='.slice((base64.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
};

const toText = (buffer) => {
  let binary = '';
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};

function creationOptions(options) {
  const key = options.publicKey;
  key.challenge = toBytes(key.challenge);
  key.user.id = toBytes(key.user.id);
  for (const c of key.excludeCredentials ?? []) c.id = toBytes(c.id);
  return { publicKey: key };
}

function requestOptions(options) {
  const key = options.publicKey;
  key.challenge = toBytes(key.challenge);
  for (const c of key.allowCredentials ?? []) c.id = toBytes(c.id);
  return { publicKey: key };
}

function registration(credential) {
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: toText(credential.response.attestationObject),
      clientDataJSON: toText(credential.response.clientDataJSON),
    },
    extensions: {},
  };
}

function assertion(credential) {
  const r = credential.response;
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: toText(r.authenticatorData),
      clientDataJSON: toText(r.clientDataJSON),
      signature: toText(r.signature),
      userHandle: r.userHandle ? toText(r.userHandle) : null,
    },
    extensions: {},
  };
}

async function passkeyOptions(form) {
  const body = new URLSearchParams({ csrf_token: form.elements.csrf_token.value });
  const response = await fetch('/sign-in/passkey/options', {
    method: 'POST',
    body,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
  });
  if (!response.ok) throw new Error('options');
  const { handle, options } = await response.json();
  form.elements.handle.value = handle;
  return options;
}

async function ceremony(form) {
  const kind = form.dataset.webauthn;
  if (kind === 'create') {
    const options = creationOptions(JSON.parse(form.dataset.options));
    return registration(await navigator.credentials.create(options));
  }
  const raw = kind === 'passkey' ? await passkeyOptions(form) : JSON.parse(form.dataset.options);
  return assertion(await navigator.credentials.get(requestOptions(raw)));
}

function showError(form, message) {
  const slot = form.querySelector('[data-webauthn-error]');
  if (!slot) return;
  slot.textContent = message;
  slot.hidden = false;
}

for (const form of document.querySelectorAll('form[data-webauthn]')) {
  // The passkey button is useless without this script, so it starts hidden.
  for (const hidden of form.querySelectorAll('[data-webauthn-reveal]')) hidden.hidden = false;
  form.addEventListener('submit', async (event) => {
    if (form.elements.credential.value) return;
    const name = form.elements.name;
    // Let the server explain a missing name before the key is touched.
    if (name && !name.value.trim()) return;
    event.preventDefault();
    if (!window.PublicKeyCredential) {
      showError(form, 'This browser cannot use security keys or passkeys.');
      return;
    }
    try {
      form.elements.credential.value = JSON.stringify(await ceremony(form));
      form.submit();
    } catch {
      showError(form, 'Your security key or passkey was not used. Try again.');
    }
  });
}
