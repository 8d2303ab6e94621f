// What every script of the desk page shares: the page's catalogue (#desk-strings), the agent's
// locale and the formatting of numbers, money, dates and language names in it.

import { refusalText } from "./net.js";

export const $ = (id) => document.getElementById(id);
export const T = JSON.parse($("desk-strings").textContent);
export const LOCALE = $("desk").dataset.locale === "tr" ? "tr-TR" : "en-GB";
export const numbers = new Intl.NumberFormat(LOCALE);
export const money = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const dates = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" });
const languages = new Intl.DisplayNames([LOCALE], { type: "language" });

// A catalogue text with its %(name)s filled in.
export const fill = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
// A code in the agent's words (the catalogue's map for it), else the code itself.
export const word = (map, code) => (code && map && map[code]) || code || "";
// A failure sentence: the template with the refusal told in the agent's language.
export const failed = (template, error) => fill(template, { error: refusalText(T.refused, error) });

export function when(iso, format = dates) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : format.format(date);
}

export function languageName(code) {
  if (!code) return "";
  try { return languages.of(code) || code; } catch (e) { return code; }
}
