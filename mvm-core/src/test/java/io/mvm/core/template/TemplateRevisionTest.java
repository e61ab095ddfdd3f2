package io.mvm.core.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Role;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TemplateRevisionTest {

    @Test
    void cacheKeyIsSha256OfLockHashProfileAndRole() {
        assertThat(CacheKey.of("lock1", "minimal", Role.WORKER)).isEqualTo(CacheKey.of("lock1", "minimal", Role.WORKER));
        assertThat(CacheKey.of("lock1", "full", Role.WORKER)).isNotEqualTo(CacheKey.of("lock1", "minimal", Role.WORKER));
        assertThat(CacheKey.of("lock1", "minimal", Role.GATEWAY)).isNotEqualTo(CacheKey.of("lock1", "minimal", Role.WORKER));
        assertThat(CacheKey.of("lock2", "minimal", Role.WORKER)).isNotEqualTo(CacheKey.of("lock1", "minimal", Role.WORKER));
    }

    @Test
    void cacheKeyMatchesTheKnownDigest() {
        // echo -n 'lock1:minimal:worker' | sha256sum
        assertThat(CacheKey.of("lock1", "minimal", Role.WORKER)).isEqualTo("c2d559a37bda0c3c18e0d02c6e2294a1d0caa177b334e95af6e6210ca7af33fc");
    }

    @Test
    void revisionHashChangesWithTheRecipeButNotWithTime() {
        String key = CacheKey.of("sha256:abc", "minimal", Role.WORKER);
        assertThat(TemplateRevision.revisionHashOf(key, "r1")).isEqualTo(TemplateRevision.revisionHashOf(key, "r1"));
        assertThat(TemplateRevision.revisionHashOf(key, "r1")).isNotEqualTo(TemplateRevision.revisionHashOf(key, "r2"));
    }

    @Test
    void theWorkloadBecomesOneQuotedShellLine() {
        DefaultWorkload workload = new DefaultWorkload(List.of("/app/serve", "--port"), List.of("8080", "it's"),
                List.of("PATH=/usr/bin:/bin", "MODE=prod", "BROKEN", "MODE=test"), "/srv/app dir", "1000:1000");
        assertThat(workload.argv()).containsExactly("/app/serve", "--port", "8080", "it's");
        assertThat(workload.environment()).containsExactly(
                java.util.Map.entry("PATH", "/usr/bin:/bin"), java.util.Map.entry("MODE", "test"));
        assertThat(workload.shellCommandLine()).contains(
                "cd '/srv/app dir' && exec '/app/serve' '--port' '8080' 'it'\\''s'");
        assertThat(new DefaultWorkload(List.of(), List.of(), List.of(), null, null).shellCommandLine()).isEqualTo(Optional.empty());
    }
}
