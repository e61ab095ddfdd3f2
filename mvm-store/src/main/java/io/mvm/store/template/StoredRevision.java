package io.mvm.store.template;

import java.time.Instant;
import java.util.List;

/**
 * A registered revision: the builder's own record ({@code revision.json}, kept verbatim for
 * agents) and its artifacts, each named by its sha256.
 */
public record StoredRevision(String template, String revisionHash, String record, Instant builtAt,
                             Instant registeredAt, String registeredBy, List<StoredArtifact> artifacts) {
    public StoredRevision {
        artifacts = List.copyOf(artifacts);
    }
}
