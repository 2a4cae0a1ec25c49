import type { RouteRecordRaw } from "vue-router";
import { Permission } from "../gen/molar/v1/access_pb";

/**
 * The billing screens: the closing and outstanding list, a new invoice and
 * one invoice. Spread into the app's routes in place of the "/billing"
 * placeholder.
 */
export const billingRoutes: RouteRecordRaw[] = [
  {
    path: "/billing",
    name: "billing",
    component: () => import("../views/billing/BillingHomeView.vue"),
    meta: { permission: Permission.BILLING_WRITE },
  },
  {
    path: "/billing/new",
    name: "billing-new",
    component: () => import("../views/billing/NewInvoiceView.vue"),
    props: (route) => ({
      patientId: typeof route.query.patient === "string" ? route.query.patient : "",
      appointmentId: typeof route.query.appointment === "string" ? route.query.appointment : "",
    }),
    meta: { permission: Permission.BILLING_WRITE },
  },
  {
    path: "/billing/invoices/:id",
    name: "billing-invoice",
    component: () => import("../views/billing/InvoiceView.vue"),
    props: true,
    meta: { permission: Permission.PATIENTS_READ },
  },
];
