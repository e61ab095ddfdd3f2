package io.mvm.coordinator.http;

import java.util.List;
import java.util.Map;

/** Request bodies as they arrive on the wire (snake_case); validated into commands by the handlers. */
final class Requests {
    private Requests() {}

    record CreateTenant(String id, Integer maxVcpus, Long maxMemoryMib, Integer maxInstances) {}

    record CreatePool(String name, String role, String profile, String flake, String template, Integer vcpus,
                      Long memoryMib, Long dataDiskMib, Integer running, Integer warm, Integer sleeping,
                      List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                      Map<String, String> configFiles, String onNodeLost, List<Port> ports, Idle idle,
                      Boolean restartWorkload) {
        @Override
        public String toString() {
            return "CreatePool[name=" + name + "]";
        }
    }

    record PatchPool(Integer running, Integer warm, Integer sleeping, Integer stopped, Integer vcpus, Long memoryMib,
                     Long dataDiskMib, String template, String role, List<String> cmd, Map<String, String> env,
                     Map<String, String> secrets, Map<String, String> configFiles, String onNodeLost,
                     List<Port> ports, Idle idle, Boolean restartWorkload) {
        @Override
        public String toString() {
            return "PatchPool[...]";
        }
    }

    /** An exposed port: {@code host} 0 or absent lets the node pick one; {@code protocol} tcp (default). */
    record Port(Integer guest, Integer host, String protocol) {}

    /**
     * An idle policy; durations as {@code "60s"}, {@code "15m"}, {@code "500ms"}; absent fields take
     * the defaults. In a PATCH an empty object ({@code {}}) removes the policy.
     */
    record Idle(String warmAfter, String sleepAfter, String minRuntime, Double cpuThreshold) {}

    record Capacity(Integer vcpus, Long memoryMib, Long diskMib) {}

    record CertificateRequest(String csr) {}

    record RegisterNode(String nodeId, Capacity capacity, Map<String, String> labels, String accelerator,
                        String agentUrl, String agentToken, String underlayAddress, String csr) {
        @Override
        public String toString() {
            return "RegisterNode[nodeId=" + nodeId + "]";
        }
    }

    record Heartbeat(String sentAt, Integer instanceCount) {}

    record ObservedEvent(String time, String type, String message) {}

    record ObservedInstance(String id, String state, Long pid, String accelerator, String lastError,
                            List<ObservedEvent> events, String template, String templateRevision,
                            List<ObservedRoute> routes, String idled) {}

    /** A route the node serves: {@code host_port} bound, or {@code error} (docs/agent-protocol.md). */
    record ObservedRoute(Integer guestPort, Integer hostPort, String protocol, String error) {}

    record Orphan(String instanceId, String path, Long bytes, String reason, String at) {}

    record Observed(Long desiredGeneration, List<ObservedInstance> instances, List<Orphan> orphans) {}

    record CreateNodeToken(String nodeId) {}

    record CreateToken(String kind, String tenant, String role, String name) {}

    record Exec(List<String> argv, Map<String, String> env, String stdinB64, Integer timeoutSecs) {
        @Override
        public String toString() {
            return "Exec[...]";
        }
    }
}
