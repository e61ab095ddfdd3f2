package io.mvm.agent.proxy;

import io.mvm.core.scale.PortMapping;
import io.mvm.model.InstanceId;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * One route as the node serves it: {@code boundPort} is the host port actually listened on (the
 * chosen one when the spec said 0), empty with {@code error} when binding failed.
 */
public record Route(InstanceId instance, PortMapping port, String target, OptionalInt boundPort, int held,
                    int open, Optional<String> error) {}
