package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class MemoryBackingTest {
    static final List<String> BASE = List.of("qemu-system-x86_64", "-M", "microvm,accel=tcg", "-m", "256",
            "-append", "console=ttyS0 mvm.hostname=clone", "-sandbox", "on", "-pidfile", "/vm/qemu.pid");

    @Test
    void aTemplateMapsItsOwnFileShared() {
        List<String> args = MemoryBacking.ownFile(Path.of("/vm")).arguments(BASE, 256, false, Optional.empty());
        assertThat(args).containsExactly("qemu-system-x86_64", "-M", "microvm,accel=tcg,memory-backend=mvm-ram",
                "-object", "memory-backend-file,id=mvm-ram,size=256M,mem-path=/vm/memory.ram,share=on",
                "-m", "256", "-append", "console=ttyS0 mvm.hostname=clone", "-sandbox", "on", "-pidfile", "/vm/qemu.pid");
    }

    @Test
    void aCloneMapsTheGoldenFilePrivatelyWaitsForItsStateAndKeepsTheTemplatesCommandLine() {
        List<String> withIncoming = new java.util.ArrayList<>(BASE);
        withIncoming.addAll(7, List.of("-incoming", "defer"));
        List<String> args = MemoryBacking.cloneOf(Path.of("/g,1/memory.ram"), Path.of("/g,1"))
                .arguments(withIncoming, 256, true, Optional.of("console=ttyS0 mvm.hostname=tpl"));
        assertThat(args).containsExactly("qemu-system-x86_64", "-M", "microvm,accel=tcg,memory-backend=mvm-ram",
                "-object", "memory-backend-file,id=mvm-ram,size=256M,mem-path=/g,,1/memory.ram,share=off",
                "-m", "256", "-append", "console=ttyS0 mvm.hostname=tpl", "-sandbox", "on",
                "-incoming", "defer", "-pidfile", "/vm/qemu.pid");
    }
}
