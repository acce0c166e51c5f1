// Money in minor units, shown per currency (JPY has none); times in the viewer's locale.

function formatter(currency) {
  return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() });
}

export function decimals(currency) {
  return formatter(currency).resolvedOptions().maximumFractionDigits;
}

export function money(minor, currency) {
  if (minor === null || minor === undefined) return "—";
  if (!currency) return String(minor);
  return formatter(currency).format(minor / 10 ** decimals(currency));
}

// "120.5" in usd -> 12050; "5000" in jpy -> 5000. null when it is not an amount.
export function toMinor(text, currency) {
  const digits = decimals(currency);
  const match = /^\s*(\d*)(?:\.(\d*))?\s*$/.exec(text.replace(/,/g, ""));
  if (!match || !(match[1] || match[2])) return null;
  const fraction = match[2] || "";
  if (fraction.length > digits) return null;
  const minor = Number(match[1] || "0") * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
  return Number.isSafeInteger(minor) ? minor : null;
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) +
    " UTC";
}
