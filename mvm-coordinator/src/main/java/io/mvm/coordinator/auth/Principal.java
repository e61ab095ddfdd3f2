package io.mvm.coordinator.auth;

import io.mvm.model.NodeId;
import io.mvm.model.TenantId;

/** What a token may act as. Sealed: every check handles every kind. */
public sealed interface Principal {
    /** The cluster's operator (the admin token), and the coordinator's own work. */
    record Admin() implements Principal {}

    /** One node's agent. */
    record Node(NodeId node) implements Principal {}

    /** Someone acting within one tenant. */
    record TenantMember(TenantId tenant, TenantRole role) implements Principal {}

    /** A Prometheus scraper: {@code /metrics} only. */
    record MetricsReader() implements Principal {}
}
