package io.mvm.core.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.pool.TenantQuota.Usage;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import org.junit.jupiter.api.Test;

class TenantQuotaTest {
    private final TenantQuota quota = new TenantQuota(16, 16384, 20);

    @Test
    void withinLimitsPasses() {
        assertThatCode(() -> quota.check(new Usage(12, 8192, 6), new Usage(16, 16384, 20))).doesNotThrowAnyException();
    }

    @Test
    void exceedingVcpusNamesQuotaAndNumbers() {
        assertThatThrownBy(() -> quota.check(new Usage(12, 1024, 3), new Usage(18, 2048, 4)))
                .isInstanceOf(MvmException.class)
                .hasMessage("quota max_vcpus exceeded: limit 16, requested 18, in use 12")
                .satisfies(e -> {
                    MvmException m = (MvmException) e;
                    assertThat(m.category()).isEqualTo(ErrorCategory.QUOTA_EXCEEDED);
                    assertThat(m.details()).containsEntry("quota", "max_vcpus").containsEntry("limit", 16L)
                            .containsEntry("requested", 18L).containsEntry("in_use", 12L);
                });
    }

    @Test
    void memoryAndInstancesAreCheckedToo() {
        assertThatThrownBy(() -> quota.check(Usage.NONE, new Usage(1, 20000, 1))).hasMessageContaining("max_memory_mib");
        assertThatThrownBy(() -> quota.check(Usage.NONE, new Usage(1, 1, 21))).hasMessageContaining("max_instances");
    }

    @Test
    void shrinkingWhileOverALoweredLimitIsAllowed() {
        assertThatCode(() -> quota.check(new Usage(30, 1, 1), new Usage(24, 1, 1))).doesNotThrowAnyException();
        assertThatCode(() -> quota.check(new Usage(30, 1, 1), new Usage(30, 1, 1))).doesNotThrowAnyException();
    }

    @Test
    void usageAddsUp() {
        assertThat(new Usage(1, 2, 3).plus(new Usage(4, 5, 6))).isEqualTo(new Usage(5, 7, 9));
    }
}
