import type { RouteRecordRaw } from "vue-router";
import { Permission } from "../gen/molar/v1/access_pb";

/**
 * The patient screens: search, registration, the patient card and editing.
 * Spread into the app's routes in place of the "/patients" placeholder.
 */
export const patientRoutes: RouteRecordRaw[] = [
  {
    path: "/patients",
    name: "patients",
    component: () => import("../views/patients/PatientSearchView.vue"),
    meta: { permission: Permission.PATIENTS_READ },
  },
  {
    path: "/patients/new",
    name: "patient-new",
    component: () => import("../views/patients/PatientFormView.vue"),
    meta: { permission: Permission.PATIENTS_WRITE },
  },
  {
    path: "/patients/:id",
    name: "patient",
    component: () => import("../views/patients/PatientCardView.vue"),
    props: true,
    meta: { permission: Permission.PATIENTS_READ },
  },
  {
    path: "/patients/:id/edit",
    name: "patient-edit",
    component: () => import("../views/patients/PatientFormView.vue"),
    props: true,
    meta: { permission: Permission.PATIENTS_WRITE },
  },
];
