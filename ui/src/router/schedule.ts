import type { RouteRecordRaw } from "vue-router";
import { Permission } from "../gen/molar/v1/access_pb";

/**
 * The appointment book. Spread into the app's routes in place of the
 * "/schedule" placeholder. The query keeps the page: ?date=YYYY-MM-DD,
 * view=day|week, by=provider|chair.
 */
export const scheduleRoutes: RouteRecordRaw[] = [
  {
    path: "/schedule",
    name: "schedule",
    component: () => import("../views/schedule/ScheduleView.vue"),
    meta: { permission: Permission.PATIENTS_READ },
  },
];
