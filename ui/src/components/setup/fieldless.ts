import { Code } from "@connectrpc/connect";
import type { Problem } from "../../api/errors";

/**
 * The problem for a dialog's alert: none when it is only field violations
 * that the dialog shows next to its fields (those under one of shown),
 * else the problem itself, so nothing is left unsaid.
 */
export function fieldless(p: Problem | null, ...shown: string[]): Problem | null {
  if (!p) return null;
  const atFields = p.fields.every((f) => shown.some((s) => f.field === s || f.field.startsWith(`${s}.`) || f.field.startsWith(`${s}[`)));
  return p.code === Code.InvalidArgument && p.fields.length > 0 && atFields ? null : p;
}
