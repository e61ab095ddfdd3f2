package io.mvm.store.template;

import java.time.Instant;
import java.util.Optional;

/**
 * One template variant as the coordinator keeps it: named as pools name it, with the TOML it was
 * created from, and which of its revisions is current (new instances boot it) and which was
 * current before (what a rollback returns to).
 */
public record StoredTemplate(String name, String templateId, String role, String profile, int vcpus, long memMib,
                             long dataDiskMib, String sourceKind, String config, Optional<String> configDir,
                             Optional<String> currentRevision, Optional<String> previousRevision, long version,
                             Instant createdAt, Instant updatedAt) {

    public StoredTemplate withCurrent(String revision, Instant now) {
        Optional<String> previous = currentRevision.filter(c -> !c.equals(revision)).or(() -> previousRevision);
        return new StoredTemplate(name, templateId, role, profile, vcpus, memMib, dataDiskMib, sourceKind, config,
                configDir, Optional.of(revision), previous, version + 1, createdAt, now);
    }
}
