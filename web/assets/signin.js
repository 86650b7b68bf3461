// The buyer's sign-in on the sale page: a token from the address fragment (#token=...), pasted
// into the form, or signed by the demo server for a chosen name. The token lives in the tab's
// sessionStorage; the page asks `currentToken()` for it.
import { api, ApiError, messageFor, tokens, jwtClaims, adoptTokenFromFragment } from './common.js';

const $ = (id) => document.getElementById(id);

function randomBuyerName() {
  return `buyer-${String(Math.floor(Math.random() * 10000)).padStart(4, '0')}`;
}

function isUsable(token) {
  const claims = token && jwtClaims(token);
  return Boolean(claims && claims.sub && !(claims.exp && claims.exp * 1000 < Date.now()));
}

// GET on the demo route answers 405 (it exists, POST only) on a server started with --demo and
// 404 elsewhere. Asked once, and only when someone needs to sign in.
let demoProbe = null;
function demoSignInExists() {
  demoProbe =
    demoProbe ||
    api('/demo/v1/token').then(
      () => true,
      (error) => error instanceof ApiError && error.status === 405,
    );
  return demoProbe;
}

// Wires the sign-in panel. `onChange(token | null)` runs after every sign-in and sign-out;
// `say(text, kind)` shows a message. Returns {currentToken, signOut}.
export function setUpSignIn({ onChange, say }) {
  adoptTokenFromFragment();
  let token = tokens.user();
  if (token && !isUsable(token)) {
    tokens.clearUser();
    token = null;
  }

  const show = () => {
    const claims = token && jwtClaims(token);
    $('who').textContent = claims ? `Signed in as ${claims.sub}` : '';
    $('signout').hidden = !token;
    $('signin').hidden = Boolean(token);
    if (!token)
      demoSignInExists().then((exists) => {
        $('demo-form').hidden = !exists;
      });
  };

  const adopt = (candidate) => {
    const claims = jwtClaims(candidate);
    if (!claims || !claims.sub) {
      say('That does not look like an access token', 'error');
      return false;
    }
    if (!isUsable(candidate)) {
      say('That token has expired — please get a new one', 'error');
      return false;
    }
    tokens.setUser(candidate);
    token = candidate;
    show();
    say(`Welcome, ${claims.sub}`, 'ok');
    onChange(token);
    return true;
  };

  const signOut = (reason) => {
    tokens.clearUser();
    token = null;
    show();
    say(reason || 'Signed out', reason ? 'error' : 'info');
    onChange(null);
  };

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token-input').value.trim();
    if (value && adopt(value)) $('token-input').value = '';
  });
  $('signout').addEventListener('click', () => signOut());
  $('demo-name').value = randomBuyerName();
  $('demo-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const userId = $('demo-name').value.trim() || randomBuyerName();
    $('demo-signin').disabled = true;
    try {
      const { data } = await api('/demo/v1/token', { method: 'POST', body: { user_id: userId } });
      adopt(data.token);
    } catch (error) {
      say(messageFor(error), 'error');
    } finally {
      $('demo-signin').disabled = false;
    }
  });
  show();
  return { currentToken: () => token, signOut };
}
