import { createI18n } from "vue-i18n";
import ko from "./ko";
import en from "./en";

/** The languages Molar speaks; Korean first. */
export const locales = ["ko", "en"] as const;
export type Locale = (typeof locales)[number];

const storageKey = "molar.locale";

/** The language chosen on this computer, else Korean. */
export function initialLocale(): Locale {
  const saved = globalThis.localStorage?.getItem(storageKey);
  return saved === "en" ? "en" : "ko";
}

/** Remembers the language choice on this computer. */
export function saveLocale(l: Locale): void {
  globalThis.localStorage?.setItem(storageKey, l);
  document.documentElement.lang = l;
}

/** Creates the i18n instance (Composition API mode). */
export function createAppI18n(locale: Locale = initialLocale()) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: "ko",
    messages: { ko, en },
    datetimeFormats: {
      ko: {
        long: { year: "numeric", month: "long", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" },
      },
      en: {
        long: { year: "numeric", month: "short", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit" },
      },
    },
  });
}
