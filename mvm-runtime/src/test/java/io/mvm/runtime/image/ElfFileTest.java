package io.mvm.runtime.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ElfFileTest {

    @Test
    void theJavaLauncherIsDynamicallyLinkedAndHasSections() {
        ElfFile java = ElfFile.read(Path.of(System.getProperty("java.home"), "bin", "java"));
        assertThat(java.isStaticallyLinked()).isFalse();
        assertThat(java.section(".text")).isPresent();
        assertThat(java.section(".modinfo")).isEmpty();
    }

    @Test
    void nonElfInputIsRejectedClearly() {
        assertThatThrownBy(() -> ElfFile.parse("#!/bin/sh\necho hi\n".repeat(10).getBytes(), "script"))
                .isInstanceOf(ImageBuildException.class).hasMessage("script is not an ELF file");
    }
}
