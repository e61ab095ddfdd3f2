package io.mvm.runtime.template;

import io.mvm.core.template.CacheKey;
import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.Role;

/**
 * What one build of one template (a variant: one role) is for, known before anything is built:
 * enough to compute the cache key and the revision hash.
 *
 * @param template      the store's name for it (a variant's name, e.g. {@code web-worker})
 * @param builderRecipe what of mvm goes into the output besides the source (see {@link TemplateRevision})
 */
public record BuildRequest(TemplateId template, SourceIdentity source, String profile, Role role,
                           int vcpus, int memMib, int dataDiskMib, String builderRecipe) {

    public String cacheKey() {
        return CacheKey.of(source.lockHash(), profile, role);
    }

    public String revisionHash() {
        return TemplateRevision.revisionHashOf(cacheKey(), builderRecipe);
    }
}
