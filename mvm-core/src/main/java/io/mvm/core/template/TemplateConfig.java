package io.mvm.core.template;

import io.mvm.model.MvmException;
import io.mvm.model.Role;
import java.util.List;

/**
 * A template as declared in its TOML file (see {@link TemplateConfigReader}): a source, a default
 * profile and at least one variant, at most one per role.
 */
public record TemplateConfig(TemplateId id, TemplateSource source, String profile, List<TemplateVariant> variants) {
    public static final String DEFAULT_PROFILE = "minimal";

    public TemplateConfig {
        variants = List.copyOf(variants);
    }

    public TemplateVariant variant(Role role) {
        return variants.stream().filter(v -> v.role() == role).findFirst()
                .orElseThrow(() -> MvmException.notFound("template " + id + " has no variant for role " + role
                        + " (it has " + variants.stream().map(v -> v.role().wireName()).toList() + ")"));
    }
}
