import { createI18n, type Composer } from "vue-i18n";
import type ko from "./ko";
import type { screensKo } from "./screens";

/** The languages Molar speaks; Korean first. */
export const locales = ["ko", "en"] as const;
export type Locale = (typeof locales)[number];

/** Everything Molar says in one language. */
export type Messages = typeof ko & typeof screensKo;

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

// Each language is its own script, fetched when it is first shown, and the
// screens' messages another, fetched once signed in: the sign-in page carries
// neither the other language nor the words of the screens behind it.
const base: Record<Locale, () => Promise<typeof ko>> = {
  ko: () => import("./ko").then((m) => m.default),
  en: () => import("./en").then((m) => m.default),
};
const screens: Record<Locale, () => Promise<typeof screensKo>> = {
  ko: () => import("./screens").then((m) => m.screensKo),
  en: () => import("./screens").then((m) => m.screensEn),
};

/** The messages fetched so far in this tab, by language; a new i18n instance starts with them. */
const fetched: { [L in Locale]?: Partial<Messages> } = {};

/**
 * Fetches the messages of locale into i18n, with those of the screens when
 * withScreens is set or they were fetched for another language already (so
 * switching language on a screen keeps its words).
 */
export async function loadMessages(i18n: Pick<Composer, "setLocaleMessage">, locale: Locale, withScreens = false): Promise<void> {
  const screensToo = withScreens || Object.values(fetched).some((m) => m && "schedule" in m);
  const have = fetched[locale];
  if (have && "app" in have && (!screensToo || "schedule" in have)) {
    i18n.setLocaleMessage(locale, have);
    return;
  }
  const [b, s] = await Promise.all([base[locale](), screensToo ? screens[locale]() : undefined]);
  fetched[locale] = { ...fetched[locale], ...b, ...s };
  i18n.setLocaleMessage(locale, fetched[locale]);
}

/** Creates the i18n instance (Composition API mode) with the messages fetched so far. */
export function createAppI18n(locale: Locale = initialLocale()) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: "ko",
    messages: { ...fetched } as Record<Locale, Messages>,
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
