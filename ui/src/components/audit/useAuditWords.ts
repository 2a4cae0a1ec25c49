import { useI18n } from "vue-i18n";
import { AuditAction, type AuditEvent } from "../../gen/molar/v1/audit_pb";

/** Actions worth a second look are coloured. */
const warnings = new Set([AuditAction.LOGIN_FAILED, AuditAction.PERMISSION_DENIED, AuditAction.RATE_LIMITED, AuditAction.RRN_REVEALED]);
const alarms = new Set([AuditAction.ACCOUNT_LOCKED, AuditAction.TOKEN_REUSE]);

/** Words for the audit trail, in the current language. */
export function useAuditWords() {
  const { t, te } = useI18n();

  /** The action in words; one added to the schema before its translation reads as its name. */
  function actionName(a: AuditAction): string {
    const name = AuditAction[a];
    if (name === undefined) return `${t("audit.actions.UNSPECIFIED")} (${a})`;
    const key = `audit.actions.${name}`;
    if (te(key)) return t(key);
    const words = name.toLowerCase().replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function actionColor(a: AuditAction): string | undefined {
    if (alarms.has(a)) return "error";
    if (warnings.has(a)) return "warning";
    return undefined;
  }

  function targetType(type: string): string {
    const key = `audit.targets.${type}`;
    return type && te(key) ? t(key) : type;
  }

  /** Who acted: the name, else the email, else the id. */
  function actor(e: AuditEvent): string {
    return e.actorName || e.actorEmail || e.actorId;
  }

  /** Whose record: "임준하 #299", a staff member's name, else the id. */
  function target(e: AuditEvent): string {
    if (e.targetType === "patient" && e.targetName) return `${e.targetName} #${e.targetChartNumber}`;
    return e.targetName || e.targetId;
  }

  return { t, actionName, actionColor, targetType, actor, target };
}
