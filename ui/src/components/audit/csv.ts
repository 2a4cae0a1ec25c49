import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { AuditEvent } from "../../gen/molar/v1/audit_pb";
import { bom, csvField, localTime } from "../billing/csv";

/** Column titles and words for an entry, in the current language. */
export interface AuditCsvLabels {
  time: string;
  action: string;
  actor: string;
  email: string;
  ip: string;
  target: string;
  detail: string;
  actionName: (e: AuditEvent) => string;
  targetName: (e: AuditEvent) => string;
}

/** Audit entries as CSV for Excel, as the screen shows them, with formulas neutralised. */
export function auditCsv(events: AuditEvent[], labels: AuditCsvLabels, timeZone: string): string {
  const rows = [[labels.time, labels.action, labels.actor, labels.email, labels.ip, labels.target, labels.detail]];
  for (const e of events) {
    rows.push([
      e.time ? localTime(timestampDate(e.time), timeZone) : "",
      labels.actionName(e),
      e.actorName,
      e.actorEmail,
      e.ip,
      labels.targetName(e),
      e.detail,
    ]);
  }
  return bom + rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}
