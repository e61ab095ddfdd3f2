package io.mvm.core.template;

import io.mvm.model.MvmException;
import io.mvm.model.Role;
import java.util.List;

/**
 * A template as declared in its TOML file (see {@link TemplateConfigReader}): a source, a default
 * profile, at least one variant (at most one per role) and what a golden snapshot of it waits for
 * ({@code [snapshot]}, defaults when absent).
 */
public record TemplateConfig(TemplateId id, TemplateSource source, String profile, List<TemplateVariant> variants,
                             TemplateSnapshotSettings snapshot) {
    public static final String DEFAULT_PROFILE = "minimal";

    public TemplateConfig {
        variants = List.copyOf(variants);
        snapshot = snapshot == null ? TemplateSnapshotSettings.DEFAULTS : snapshot;
    }

    public TemplateConfig(TemplateId id, TemplateSource source, String profile, List<TemplateVariant> variants) {
        this(id, source, profile, variants, TemplateSnapshotSettings.DEFAULTS);
    }

    public TemplateVariant variant(Role role) {
        return variants.stream().filter(v -> v.role() == role).findFirst()
                .orElseThrow(() -> MvmException.notFound("template " + id + " has no variant for role " + role
                        + " (it has " + variants.stream().map(v -> v.role().wireName()).toList() + ")"));
    }
}
