package io.mvm.runtime.backend;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** The SPI stays backend-neutral, and the VM supervision layer talks to backends only through it. */
class BackendSpiArchitectureTest {
    private static final JavaClasses RUNTIME = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.mvm.runtime");

    @Test
    void spiDoesNotKnowAnyConcreteBackend() {
        noClasses().that().resideInAPackage("io.mvm.runtime.backend..")
                .should().dependOnClassesThat().resideInAnyPackage("io.mvm.runtime.qemu..", "io.mvm.runtime.firecracker..",
                        "io.mvm.runtime.vm..", "io.mvm.runtime.cgroup..", "io.mvm.runtime.drive..")
                .check(RUNTIME);
    }

    @Test
    void supervisionUsesBackendsOnlyThroughTheSpi() {
        noClasses().that().resideInAPackage("io.mvm.runtime.vm..")
                .should().dependOnClassesThat().resideInAnyPackage("io.mvm.runtime.qemu..", "io.mvm.runtime.firecracker..")
                .check(RUNTIME);
    }
}
