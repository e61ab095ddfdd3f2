package io.mvm.agent.templates;

import java.io.InputStream;

/** Where a node fetches template revisions it lacks: the coordinator ({@code /v1/templates}, {@code /v1/artifacts}). */
public interface ArtifactSource {
    /** The revision's record (revision.json) as its builder wrote it. */
    byte[] revisionRecord(String template, String revision);

    /** An artifact's bytes from {@code offset} on; {@link Ranged#offset()} says where the stream really starts. */
    Ranged artifact(String sha256, long offset);

    /** A body and the offset its first byte has (0 when the source ignored the range). */
    record Ranged(long offset, InputStream body) {}
}
