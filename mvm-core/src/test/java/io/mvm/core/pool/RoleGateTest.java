package io.mvm.core.pool;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.pool.RoleGate.Member;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.List;
import org.junit.jupiter.api.Test;

class RoleGateTest {
    private static final TenantId ACME = TenantId.of("acme");
    private static final TenantId OTHER = TenantId.of("other");

    private static Member m(String id, TenantId tenant, Role role, DesiredState desired, InstanceState observed) {
        return new Member(InstanceId.of(id), tenant, role, desired, observed);
    }

    @Test
    void workersWaitUntilTheTenantsGatewaysRun() {
        var gateway = m("gw", ACME, Role.GATEWAY, DesiredState.RUNNING, InstanceState.CREATING);
        var worker = m("w1", ACME, Role.WORKER, DesiredState.RUNNING, InstanceState.PENDING);
        var builder = m("b1", ACME, Role.BUILDER, DesiredState.RUNNING, InstanceState.PENDING);
        assertThat(RoleGate.heldBack(List.of(gateway, worker, builder)))
                .containsExactlyInAnyOrder(InstanceId.of("w1"), InstanceId.of("b1"));

        var gatewayUp = m("gw", ACME, Role.GATEWAY, DesiredState.RUNNING, InstanceState.RUNNING);
        assertThat(RoleGate.heldBack(List.of(gatewayUp, worker, builder))).containsExactly(InstanceId.of("w1"));
        var builderUp = m("b1", ACME, Role.BUILDER, DesiredState.RUNNING, InstanceState.RUNNING);
        assertThat(RoleGate.heldBack(List.of(gatewayUp, worker, builderUp))).isEmpty();
    }

    @Test
    void existingInstancesAreNeverHeldBackSoNoAgentDestroysThem() {
        var gatewayRestarting = m("gw", ACME, Role.GATEWAY, DesiredState.RUNNING, InstanceState.CREATING);
        var runningWorker = m("w1", ACME, Role.WORKER, DesiredState.RUNNING, InstanceState.RUNNING);
        var sleepingWorker = m("w2", ACME, Role.WORKER, DesiredState.RUNNING, InstanceState.SLEEPING);
        assertThat(RoleGate.heldBack(List.of(gatewayRestarting, runningWorker, sleepingWorker))).isEmpty();
    }

    @Test
    void tenantsDoNotWaitForEachOtherAndOnlyWantedRunningInstancesBlock() {
        var acmeGateway = m("gw", ACME, Role.GATEWAY, DesiredState.RUNNING, InstanceState.PENDING);
        var otherWorker = m("ow", OTHER, Role.WORKER, DesiredState.RUNNING, InstanceState.PENDING);
        assertThat(RoleGate.heldBack(List.of(acmeGateway, otherWorker))).isEmpty();

        var sleepingGateway = m("gw", ACME, Role.GATEWAY, DesiredState.SLEEPING, InstanceState.PENDING);
        var worker = m("w1", ACME, Role.WORKER, DesiredState.RUNNING, InstanceState.PENDING);
        assertThat(RoleGate.heldBack(List.of(sleepingGateway, worker))).isEmpty();
    }

    @Test
    void instancesOfTheSameRoleDoNotWaitForEachOther() {
        var w1 = m("w1", ACME, Role.WORKER, DesiredState.RUNNING, InstanceState.PENDING);
        var w2 = m("w2", ACME, Role.WORKER, DesiredState.RUNNING, InstanceState.CREATING);
        assertThat(RoleGate.heldBack(List.of(w1, w2))).isEmpty();
    }
}
