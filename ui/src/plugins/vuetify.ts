// The three weights the screens use, each split by Unicode range.
import "pretendard/dist/web/static/Pretendard-Regular.css";
import "pretendard/dist/web/static/Pretendard-Medium.css";
import "pretendard/dist/web/static/Pretendard-Bold.css";
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
