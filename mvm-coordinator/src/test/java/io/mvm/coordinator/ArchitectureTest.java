package io.mvm.coordinator;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** Dependencies point inward: core knows no storage or HTTP; only the HTTP edge knows Javalin. */
class ArchitectureTest {
    private final JavaClasses classes = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.mvm.core", "io.mvm.store", "io.mvm.coordinator");

    @Test
    void coreIsPure() {
        noClasses().that().resideInAPackage("io.mvm.core..")
                .should().dependOnClassesThat().resideInAnyPackage("io.mvm.store..", "io.mvm.coordinator..", "java.sql..",
                        "io.javalin..", "java.net..", "java.nio.file..")
                .check(classes);
    }

    @Test
    void storeKnowsNothingOfTheCoordinator() {
        noClasses().that().resideInAPackage("io.mvm.store..")
                .should().dependOnClassesThat().resideInAnyPackage("io.mvm.coordinator..", "io.javalin..")
                .check(classes);
    }

    @Test
    void onlyTheEdgesKnowJavalinAndJackson() {
        // The edges translate wire formats: HTTP, and the desired-VMs file (TOML).
        noClasses().that().resideInAPackage("io.mvm.coordinator..")
                .and().resideOutsideOfPackage("io.mvm.coordinator.http..")
                .and().resideOutsideOfPackage("io.mvm.coordinator.vmsfile..")
                .should().dependOnClassesThat().resideInAnyPackage("io.javalin..", "com.fasterxml.jackson..",
                        "io.micrometer..")
                .check(classes);
    }
}
