// The guest page (docs/guest-page.md): reads the hold its link names, asks the guest to
// accept the hold terms, records that (POST /pay/<token>/accept), then confirms the card
// with Stripe.js. The link's token (in the page's URL) is the only credential: no client
// token is ever in the browser.

const CONFIRMABLE = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);
const ZERO_DECIMAL = new Set(['jpy']);

const $ = (id) => document.getElementById(id);
const token = window.location.pathname.split('/')[2] || '';
const base = `/pay/${encodeURIComponent(token)}`;

// The amount as GET /api/disclosure's text shows it: $250.00, €12.50, ¥5,000.
export function formatAmount(minor, currency) {
  const code = currency.toUpperCase();
  const major = ZERO_DECIMAL.has(currency) ? minor : minor / 100;
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).format(major);
}

function show(id, visible = true) {
  $(id).classList.toggle('hidden', !visible);
}

function outcome(title, text, ok = true) {
  show('pay-form', false);
  $('outcome-title').textContent = title;
  $('outcome-text').textContent = text;
  $('outcome').classList.toggle('ok', ok);
  show('outcome');
}

function problem(text) {
  show('loading', false);
  show('terms', false);
  show('pay-form', false);
  if (text) $('problem-text').textContent = text;
  show('problem');
}

async function getJson(path, options) {
  const response = await fetch(path, { credentials: 'omit', cache: 'no-store', ...options });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

// What the page shows for a hold with no card left to confirm.
function settledView(hold) {
  switch (hold.status) {
    case 'requires_capture':
      return ['Deposit hold authorized', 'Your card is authorized for this hold. Nothing more to do.'];
    case 'scheduled':
      return ['Card saved', 'Your card is saved; the hold will be placed before your stay.'];
    case 'succeeded':
      return ['Hold settled', 'This hold has been settled by your host.'];
    case 'canceled':
      return ['Hold released', 'This hold has been released. Nothing was charged.'];
    default:
      return ['Nothing to do', 'This hold needs nothing from you right now.'];
  }
}

function renderTerms(hold) {
  $('property').textContent = hold.property_id || 'the property';
  $('amount').textContent = formatAmount(hold.amount, hold.currency);
  $('description').textContent = hold.description || '—';
  $('disclosure-text').textContent = hold.disclosure.text;
  show('loading', false);
  show('terms');
}

function setupForm(hold) {
  const secret = hold.client_secret || hold.setup_client_secret;
  const saving = !hold.client_secret;
  if (typeof window.Stripe !== 'function' || !hold.publishable_key) {
    problem('Card payments are not available right now. Please try again later.');
    return;
  }
  const stripe = window.Stripe(hold.publishable_key);
  const card = stripe.elements().create('card');
  card.mount('#card-element');
  const accept = $('accept');
  const submit = $('submit');
  const error = $('form-error');
  if (saving) {
    submit.textContent = 'Save card';
  }
  let busy = false;
  const refresh = () => {
    submit.disabled = busy || !accept.checked;
    show('submit-hint', !accept.checked);
  };
  accept.addEventListener('change', refresh);
  card.on('change', (event) => {
    error.textContent = event.error ? event.error.message : '';
  });
  $('pay-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy || !accept.checked) return; // the terms come first, always
    busy = true;
    error.textContent = '';
    refresh();
    try {
      const accepted = await getJson(`${base}/accept`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ disclosure_version: hold.disclosure.version }),
      });
      if (accepted.status === 409) {
        error.textContent = 'The hold terms have changed. Please reload the page and read them again.';
        return;
      }
      if (accepted.status === 404) {
        problem();
        return;
      }
      if (accepted.status !== 200) {
        error.textContent = 'We could not record your agreement. Please try again.';
        return;
      }
      const data = { payment_method: { card } };
      const result = saving
        ? await stripe.confirmCardSetup(secret, data)
        : await stripe.confirmCardPayment(secret, data);
      if (result.error) {
        error.textContent = result.error.message || 'Your card could not be confirmed.';
        return; // retryable: the form stays
      }
      if (saving) {
        outcome('Card saved', 'Your card is saved; the hold will be placed before your stay.');
      } else {
        outcome('Deposit hold authorized',
          `A hold of ${formatAmount(hold.amount, hold.currency)} is placed on your card. ` +
          'It is not a charge, and is released automatically if it is not used.');
      }
      $('outcome-title').focus();
    } finally {
      busy = false;
      refresh();
    }
  });
  refresh();
  show('pay-form');
}

async function main() {
  const { status, body } = await getJson(`${base}/hold`);
  if (status === 404 || !body) {
    problem();
    return;
  }
  if (status !== 200) {
    problem('The hold could not be loaded. Please try again later.');
    return;
  }
  renderTerms(body);
  const canPay = body.client_secret && CONFIRMABLE.has(body.status);
  const canSave = body.setup_client_secret && body.status === 'scheduled';
  if (canPay || canSave) {
    setupForm(body);
  } else {
    const [title, text] = settledView(body);
    outcome(title, text);
  }
}

$('outcome-title').tabIndex = -1;
main().catch(() => problem('The hold could not be loaded. Please try again later.'));
