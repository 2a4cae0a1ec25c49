import { AppointmentStatus } from "../../gen/molar/v1/schedule_pb";

/** "CONFIRMED" for AppointmentStatus.CONFIRMED: the key of its label under schedule.status. */
export function statusKey(s: AppointmentStatus): string {
  return AppointmentStatus[s] ?? "UNSPECIFIED";
}

/**
 * The status changes the server allows, mirrored so that only the buttons
 * that can work are offered (the server still decides).
 */
export const transitions: ReadonlyMap<AppointmentStatus, readonly AppointmentStatus[]> = new Map([
  [
    AppointmentStatus.BOOKED,
    [AppointmentStatus.CONFIRMED, AppointmentStatus.ARRIVED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW],
  ],
  [AppointmentStatus.CONFIRMED, [AppointmentStatus.ARRIVED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW]],
  [AppointmentStatus.ARRIVED, [AppointmentStatus.IN_CHAIR, AppointmentStatus.CANCELLED]],
  [AppointmentStatus.IN_CHAIR, [AppointmentStatus.COMPLETED]],
]);

/** Whether from → to is a change the server allows. */
export function canTransition(from: AppointmentStatus, to: AppointmentStatus): boolean {
  return transitions.get(from)?.includes(to) ?? false;
}

/** One-click status actions in the order they are offered, with the key of their label under schedule.actions. */
export const statusActions = [
  { to: AppointmentStatus.CONFIRMED, key: "confirm", icon: "mdi-check" },
  { to: AppointmentStatus.ARRIVED, key: "arrive", icon: "mdi-door-open" },
  { to: AppointmentStatus.IN_CHAIR, key: "seat", icon: "mdi-seat-recline-normal" },
  { to: AppointmentStatus.COMPLETED, key: "complete", icon: "mdi-check-all" },
  { to: AppointmentStatus.NO_SHOW, key: "noShow", icon: "mdi-account-off-outline" },
  { to: AppointmentStatus.CANCELLED, key: "cancel", icon: "mdi-close-circle-outline" },
] as const;

/** Whether the appointment's cells are given back (the server frees them on cancel and no-show). */
export function releasesTime(s: AppointmentStatus): boolean {
  return s === AppointmentStatus.CANCELLED || s === AppointmentStatus.NO_SHOW;
}

/** Whether the appointment can no longer be moved or changed. */
export function isFinal(s: AppointmentStatus): boolean {
  return s === AppointmentStatus.COMPLETED || s === AppointmentStatus.CANCELLED || s === AppointmentStatus.NO_SHOW;
}
