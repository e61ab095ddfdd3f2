package io.mvm.agent.coordinator;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * JSON bodies of the agent protocol, exactly as on the wire (snake_case by the mapper). Kept apart
 * from the agent's own records; {@link HttpCoordinatorClient} maps between the two in one place.
 */
final class Wire {
    private Wire() {}

    record CapacityBody(int vcpus, long memoryMib, long diskMib) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record RegisterRequest(String nodeId, CapacityBody capacity, Map<String, String> labels, String accelerator,
                           String agentUrl, String agentToken, String underlayAddress, String csr) {}

    record RegisterResponse(String nodeId, String token, Integer heartbeatIntervalSecs, String certificate,
                            String caCertificate, String relayToken) {
        @Override
        public String toString() {
            return "RegisterResponse[nodeId=" + nodeId + ", secrets=(hidden)]";
        }
    }

    record CertificateRequest(String csr) {}

    record CertificateResponse(String certificate, String caCertificate) {}

    record HeartbeatRequest(String sentAt, int instanceCount) {}

    record DesiredInstanceBody(String id, String tenant, String pool, String role, String desiredState, int vcpus,
                               long memoryMib, long dataDiskMib, String ip, int prefix, String gateway, String mac,
                               int netId, List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                               Map<String, String> configFiles, String revision, String template,
                               String templateRevision, List<ArtifactBody> artifacts, List<PortBody> ports,
                               IdleBody idle, Boolean restartWorkload) {}

    record ArtifactBody(String role, String path, long size, String sha256) {}

    record RevisionBody(com.fasterxml.jackson.databind.JsonNode record) {}

    /** An exposed port (docs/agent-protocol.md); {@code host} 0: the node picks one. */
    record PortBody(int guest, int host, String protocol) {}

    /** The idle policy, durations in milliseconds. */
    record IdleBody(long warmAfterMs, long sleepAfterMs, long minRuntimeMs, double cpuThreshold) {}

    /** A route as the node serves it: the bound host port, or the error that kept it from binding. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record RouteBody(int guestPort, Integer hostPort, String protocol, String error) {}

    record DesiredResponse(long generation, List<DesiredInstanceBody> instances, List<PeerBody> peers) {}

    /** An instance of one of our tenants on another node (VXLAN forwarding). */
    record PeerBody(String instance, String tenant, int netId, String mac, String ip, String node, String underlay) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record EventBody(String time, String type, String message) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ObservedInstanceBody(String id, String state, Long pid, String accelerator, String lastError,
                                List<EventBody> events, String template, String templateRevision,
                                List<RouteBody> routes, String idled) {}

    /** {@code orphans} is left out when the agent could not list them (never sent as "none"). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ObservedRequest(long desiredGeneration, List<ObservedInstanceBody> instances, List<OrphanBody> orphans) {}

    /** Data set aside on the node: {@code at} is an ISO-8601 instant, {@code bytes} the kept files' size. */
    record OrphanBody(String instanceId, String path, long bytes, String reason, String at) {}

    record Problem(String title, String detail, Integer status) {}
}
