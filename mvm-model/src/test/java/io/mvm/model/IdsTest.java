package io.mvm.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdsTest {

    @ParameterizedTest
    @ValueSource(strings = {"acme", "a", "a-1", "0abc", "abcdefghijklmnopqrstuvwxyz01234"})
    void acceptsValidTenantIds(String id) {
        assertThat(TenantId.of(id).value()).isEqualTo(id);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-acme", "Acme", "acme_corp", "a/b", "abcdefghijklmnopqrstuvwxyz012345", "ac me"})
    void rejectsInvalidTenantIdsAsInvalidArgument(String id) {
        assertThatThrownBy(() -> TenantId.of(id))
                .isInstanceOfSatisfying(MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT))
                .hasMessageContaining("invalid tenant id");
    }

    @Test
    void parsesPoolReferences() {
        PoolRef ref = PoolRef.parse("acme/workers");
        assertThat(ref.tenant()).isEqualTo(TenantId.of("acme"));
        assertThat(ref.name()).isEqualTo(PoolName.of("workers"));
        assertThat(ref).hasToString("acme/workers");
        assertThatThrownBy(() -> PoolRef.parse("acme")).hasMessageContaining("TENANT/POOL");
        assertThatThrownBy(() -> PoolRef.parse("a/b/c")).hasMessageContaining("TENANT/POOL");
    }

    @Test
    void rolesOrderGatewayFirstOnScaleUpAndLastOnScaleDown() {
        var up = java.util.Arrays.stream(Role.values()).sorted(Role.SCALE_UP_ORDER).toList();
        assertThat(up).containsExactly(Role.GATEWAY, Role.BUILDER, Role.WORKER, Role.CAPABILITY_IMESSAGE);
        var down = java.util.Arrays.stream(Role.values()).sorted(Role.SCALE_DOWN_ORDER).toList();
        assertThat(down).containsExactly(Role.CAPABILITY_IMESSAGE, Role.WORKER, Role.BUILDER, Role.GATEWAY);
        assertThat(Role.parse("capability-imessage")).isEqualTo(Role.CAPABILITY_IMESSAGE);
        assertThatThrownBy(() -> Role.parse("admin")).hasMessageContaining("unknown role");
    }

    @Test
    void rolesDeclareTheirDrives() {
        assertThat(Role.GATEWAY.requiresConfigDrive()).isTrue();
        assertThat(Role.GATEWAY.requiresSecretsDrive()).isTrue();
        assertThat(Role.WORKER.requiresConfigDrive()).isFalse();
        assertThat(Role.WORKER.requiresSecretsDrive()).isTrue();
        assertThat(Role.BUILDER.requiresSecretsDrive()).isFalse();
        assertThat(Role.CAPABILITY_IMESSAGE.requiresSecretsDrive()).isFalse();
    }

    @Test
    void resourcesRejectNegativeValues() {
        assertThatThrownBy(() -> new Resources(1, -5)).hasMessageContaining("memory must not be negative");
        assertThat(new Resources(2, 512).times(2).fitsIn(new Resources(4, 1024))).isTrue();
        assertThat(new Resources(2, 513).times(2).fitsIn(new Resources(4, 1024))).isFalse();
    }
}
