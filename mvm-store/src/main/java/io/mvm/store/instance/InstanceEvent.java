package io.mvm.store.instance;

import io.mvm.model.InstanceId;
import io.mvm.model.NodeId;
import java.time.Instant;

/** Something a node reported happening to an instance (created, restarted, vmm-exited, ...). */
public record InstanceEvent(InstanceId instance, Instant at, String type, String message, NodeId node) {}
