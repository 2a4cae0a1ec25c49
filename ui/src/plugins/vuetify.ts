// The weights the screens use, each split by Unicode range; bold comes with
// the signed-in frame (AppShell.vue), the sign-in page has none.
import "pretendard/dist/web/static/Pretendard-Regular.css";
import "pretendard/dist/web/static/Pretendard-Medium.css";
// Declared after the subsets so that it wins for the letters it holds: the
// sign-in page needs no other font file (scripts/signin-font.mjs).
import "./signin-font/signin-font.css";
import "vuetify/styles";
import "./fonts.css";
import { createVuetify } from "vuetify";
import { en, ko } from "vuetify/locale";
import { aliases, mdiSvg } from "./icons";

/** Dense, calm styling for screens used all day at a front desk. */
export function createAppVuetify(locale: string) {
  return createVuetify({
    locale: { locale, fallback: "ko", messages: { ko, en } },
    icons: { defaultSet: "mdi", aliases, sets: { mdi: mdiSvg } },
    theme: {
      defaultTheme: "molar",
      themes: {
        molar: {
          dark: false,
          colors: {
            primary: "#00796b",
            secondary: "#455a64",
            background: "#f6f8f8",
            surface: "#ffffff",
            error: "#c62828",
            warning: "#b26a00",
            success: "#2e7d32",
          },
        },
      },
    },
    defaults: {
      VTextField: { variant: "outlined", density: "comfortable", color: "primary" },
      VCombobox: { variant: "outlined", density: "comfortable", color: "primary" },
      VSelect: { variant: "outlined", density: "comfortable", color: "primary" },
      VCard: { variant: "flat", border: true },
    },
  });
}
