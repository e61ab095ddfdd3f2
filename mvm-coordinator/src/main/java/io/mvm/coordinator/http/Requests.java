package io.mvm.coordinator.http;

/** Request bodies as they arrive on the wire (snake_case); validated into commands by the handlers. */
final class Requests {
    private Requests() {}

    record CreateTenant(String id, Integer maxVcpus, Long maxMemoryMib, Integer maxInstances) {}

    record CreatePool(String name, String role, String profile, String flake, String template, Integer vcpus,
                      Long memoryMib, Long dataDiskMib, Integer running, Integer warm, Integer sleeping) {}

    record PatchPool(Integer running, Integer warm, Integer sleeping, Integer stopped, Integer vcpus, Long memoryMib,
                     Long dataDiskMib, String template, String role) {}
}
