import { h, shallowRef, type FunctionalComponent } from "vue";
import type { IconProps, IconSet } from "vuetify";
import { VSvgIcon } from "vuetify/components";
import { aliases as svgAliases } from "vuetify/iconsets/mdi-svg";
// One file per icon, so these few do not bring every path of @mdi/js along.
import lockOutline from "@mdi/svg/svg/lock-outline.svg?raw";
import mapMarkerQuestionOutline from "@mdi/svg/svg/map-marker-question-outline.svg?raw";
import toothOutline from "@mdi/svg/svg/tooth-outline.svg?raw";

/** The path of an icon's SVG file. */
export function pathOf(svg: string): string {
  return /\sd="([^"]+)"/.exec(svg)?.[1] ?? "";
}

/**
 * The icons of the sign-in and not-found pages travel with the app; the
 * rest of the icons the screens use (iconPaths.ts) come as one small file
 * the first time a screen asks for an icon it does not have, and the icons
 * waiting for it are drawn then.
 */
const shown = shallowRef<Record<string, string>>({
  "mdi-lock-outline": pathOf(lockOutline),
  "mdi-map-marker-question-outline": pathOf(mapMarkerQuestionOutline),
  "mdi-tooth-outline": pathOf(toothOutline),
});
let loading: Promise<void> | null = null;

/** Loads every icon the screens use; resolves once they can be drawn. */
export function loadIcons(): Promise<void> {
  loading ??= import("./iconPaths").then((m) => {
    shown.value = { ...m.icons, ...shown.value };
  });
  return loading;
}

/** Renders "mdi-…" names from the icons loaded, and Vuetify's own SVG aliases as they are. */
const component: FunctionalComponent<IconProps> = (props) => {
  const name = typeof props.icon === "string" ? props.icon : "";
  const path = shown.value[name];
  if (path === undefined && name.startsWith("mdi-")) {
    void loadIcons();
    // An empty drawing of the same size until the icon arrives.
    return h(VSvgIcon, { ...props, icon: "M0 0" });
  }
  return h(VSvgIcon, { ...props, icon: path ?? props.icon });
};

/** The icon set and Vuetify's aliases (close, dropdown, …) as SVG. */
export const mdiSvg: IconSet = { component };
export const aliases = svgAliases;
