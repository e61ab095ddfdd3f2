package io.mvm.runtime.template;

import io.mvm.core.template.TemplateRevision;
import java.nio.file.Path;

/** How a build ended when it did not fail: a new revision, or an existing one reused from the cache. */
public sealed interface BuildOutcome {
    TemplateRevision revision();

    /** The revision's directory under {@code templates/<id>/artifacts/}. */
    Path directory();

    record Built(TemplateRevision revision, Path directory) implements BuildOutcome {}

    /** The cache key and recipe matched an intact revision, which is current now; nothing was built. */
    record Reused(TemplateRevision revision, Path directory) implements BuildOutcome {}
}
