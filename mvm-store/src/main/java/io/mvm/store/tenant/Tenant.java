package io.mvm.store.tenant;

import io.mvm.core.network.Ipv4Cidr;
import io.mvm.core.pool.TenantQuota;
import io.mvm.model.TenantId;
import java.time.Instant;

/** A tenant as stored: its quota and its network, a /24 kept for life. */
public record Tenant(TenantId id, int netId, Ipv4Cidr subnet, TenantQuota quota, long version,
                     Instant createdAt, Instant updatedAt) {}
