import { diffWordsWithSpace } from "diff";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Note } from "../../gen/molar/v1/chart_pb";

/** One version of a note: its text then, who wrote it and when. */
export interface NoteVersion {
  /** 1 for the text first written, counting up to the current one. */
  number: number;
  title: string;
  content: string;
  tags: string[];
  /** Who wrote this text; empty when the record does not say. */
  author: string;
  time: Timestamp | undefined;
  current: boolean;
}

/** A run of text that both versions share, or that one of them has alone. */
export interface TextPart {
  kind: "same" | "added" | "removed";
  text: string;
}

/** What changed from one version to the next; fields left alone are empty. */
export interface VersionChange {
  title: TextPart[];
  content: TextPart[];
  tagsAdded: string[];
  tagsRemoved: string[];
}

/**
 * Every version of a note, oldest first: each earlier version with its own
 * author and time, then the current text with whoever wrote it last. The
 * first version is always the note's author's, at its creation, which also
 * fills in records written before versions named their authors.
 */
export function noteVersions(n: Note): NoteVersion[] {
  const out: NoteVersion[] = n.revisions.map((r, i) => ({
    number: i + 1,
    title: r.title,
    content: r.content,
    tags: r.tags,
    author: r.authorName || (i === 0 ? n.authorName : ""),
    time: r.time ?? (i === 0 ? n.createTime : undefined),
    current: false,
  }));
  const first = out.length === 0;
  out.push({
    number: out.length + 1,
    title: n.title,
    content: n.content,
    tags: n.tags,
    author: n.updatedBy || (first ? n.authorName : ""),
    time: n.updateTime ?? (first ? n.createTime : undefined),
    current: true,
  });
  return out;
}

/** A word-level difference of two texts, whitespace and line breaks kept as written. */
export function textDiff(before: string, after: string): TextPart[] {
  if (before === after) return [];
  return diffWordsWithSpace(before, after).map((c) => ({
    kind: c.added ? "added" : c.removed ? "removed" : "same",
    text: c.value,
  }));
}

/** What changed from before to after. */
export function versionChange(before: NoteVersion, after: NoteVersion): VersionChange {
  return {
    title: textDiff(before.title, after.title),
    content: textDiff(before.content, after.content),
    tagsAdded: after.tags.filter((t) => !before.tags.includes(t)),
    tagsRemoved: before.tags.filter((t) => !after.tags.includes(t)),
  };
}
