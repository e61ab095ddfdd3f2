package io.mvm.coordinator.template;

import io.mvm.store.template.StoredArtifact;
import java.time.Instant;
import java.util.List;

/**
 * A revision a build host registers: the fields the coordinator checks and indexes, and the
 * builder's whole record ({@code revision.json}), kept verbatim for agents.
 */
public record RevisionUpload(String revisionHash, String templateId, String role, Instant builtAt,
                             List<StoredArtifact> artifacts, String record) {
    public RevisionUpload {
        artifacts = List.copyOf(artifacts);
    }
}
