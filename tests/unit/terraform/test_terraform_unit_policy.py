"""The bundle policy over the whole Terraform language (python-hcl2; .tf and .tf.json):
a corpus of real-world-style modules passes, and every forbidden construct is found with
its file and line, also when hidden behind locals, variables, conditionals, ``for``,
``for_each``, ``dynamic``, heredocs, JSON strings or template files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.terraform_policy import BundlePolicy, PolicyCheckError, check_bundle

CORPUS = Path(__file__).parent / "policy_corpus"


@pytest.mark.parametrize("module", ["webapp", "jsonmod"])
def test_real_world_style_modules_pass(module: str, tmp_path: Path) -> None:
    # Operators, conditionals, for expressions, splats, dynamic blocks, count/for_each,
    # nested local modules, heredocs and template files, check/moved/removed blocks,
    # provider aliases, terraform.tfvars, file functions inside the module.
    root = shutil.copytree(CORPUS / module, tmp_path / module)
    assert check_bundle(root, BundlePolicy()) == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _found(tmp_path: Path, files: dict[str, str], **policy: bool) -> list[str]:
    return [str(v) for v in check_bundle(_write(tmp_path / "b", files), BundlePolicy(**policy))]


OUT = "reads outside the bundle"
HIDDEN_FILE_READS = {
    "literal": ('output "x" { value = file("/etc/passwd") }\n', 1),
    "local": ('locals { d = "/etc" }\n\noutput "x" { value = file("${local.d}/passwd") }\n', 3),
    "variable default": (
        'variable "p" { default = "/proc/self/environ" }\noutput "x" { value = file(var.p) }\n',
        2,
    ),
    "conditional": (
        'variable "on" { default = true }\n'
        'output "x" { value = filebase64(var.on ? "${path.module}/a" : "/etc/shadow") }\n',
        2,
    ),
    "for expression": ('output "x" { value = [for f in ["/etc/hosts"] : filemd5(f)] }\n', 1),
    "for_each": (
        'resource "terraform_data" "x" {\n  for_each = toset(["/root/.aws/credentials"])\n'
        "  input    = file(each.value)\n}\n",
        3,
    ),
    "join": ('output "x" { value = file(join("/", ["", "etc", "passwd"])) }\n', 1),
    "format": ('output "x" { value = file(format("%s/passwd", "/etc")) }\n', 1),
    "climbing out": ('output "x" { value = file("${path.module}/../../etc/passwd") }\n', 1),
    "home": ('output "x" { value = fileexists(pathexpand("~/.ssh/id_rsa")) }\n', 1),
    "abspath": ('output "x" { value = filesha256(abspath("../../x")) }\n', 1),
    "fileset pattern": ('output "x" { value = fileset(path.module, "../../**") }\n', 1),
    "heredoc": ('output "x" {\n  value = <<-EOT\n    ${file("/etc/passwd")}\n  EOT\n}\n', 3),
    "template directive": (
        'output "x" {\n  value = <<EOT\n%{ for l in split("\\n", file("/etc/group")) }${l}'
        "%{ endfor }\nEOT\n}\n",
        3,
    ),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_FILE_READS))
def test_file_functions_reaching_outside_are_found_where_they_hide(
    case: str, tmp_path: Path
) -> None:
    text, line = HIDDEN_FILE_READS[case]
    found = _found(tmp_path, {"main.tf": text})
    assert len(found) == 1 and found[0].startswith(f"main.tf:{line}: ") and OUT in found[0], found


def test_paths_through_tfvars_module_arguments_templates_and_json(tmp_path: Path) -> None:
    found = _found(
        tmp_path,
        {
            "main.tf": (
                'variable "p" { default = "ok.txt" }\n'
                'output "a" { value = file(var.p) }\n'
                'module "m" {\n  source = "./m"\n  path   = "/var/lib/autostack/runner.db"\n}\n'
                'output "t" { value = templatefile("${path.module}/t.tftpl", {}) }\n'
            ),
            "terraform.tfvars": 'p = "/etc/passwd"\n',
            "m/main.tf": 'variable "path" {}\noutput "x" { value = filesha1(var.path) }\n',
            "t.tftpl": 'line one\n${file("/etc/passwd")}\n',
            "x.tf.json": '{"output": {"j": {"value": "${file(\\"/etc/issue\\")}"}}}\n',
            "d.tf": (
                'resource "terraform_data" "d" {\n  dynamic "x" {\n    for_each = ["/etc/a"]\n'
                "    iterator = it\n    content { v = file(it.value) }\n  }\n}\n"
            ),
        },
    )
    assert sorted(f.split(": ", 1)[0] for f in found) == [
        "d.tf:5",
        "m/main.tf:2",
        "main.tf:2",
        "t.tftpl:2",
        "x.tf.json:1",
    ], found
    assert all(OUT in f for f in found)


def test_local_path_arguments_of_allowed_providers(tmp_path: Path) -> None:
    found = _found(
        tmp_path,
        {
            "main.tf": (
                'data "archive_file" "z" {\n  type        = "zip"\n  source_dir  = "/"\n'
                '  output_path = "${path.module}/z.zip"\n}\n'
                'resource "aws_s3_object" "o" {\n  bucket = "b"\n  key    = "k"\n'
                '  source = "/var/lib/autostack/runner.db"\n}\n'
            )
        },
    )
    assert found == [
        "main.tf:3: data.archive_file.z: source_dir = '/' is outside the bundle; use a path"
        " inside the module (path.module)",
        "main.tf:9: aws_s3_object.o: source = '/var/lib/autostack/runner.db' is outside the"
        " bundle; use a path inside the module (path.module)",
    ]


def test_provisioners_anywhere_are_refused_unless_allowed(tmp_path: Path) -> None:
    files = {
        "main.tf": (
            'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n    command = "id"\n'
            "  }\n}\n"
            "removed {\n  from = terraform_data.gone\n  lifecycle { destroy = true }\n"
            '  provisioner "local-exec" {\n    when    = destroy\n    command = "id"\n  }\n}\n'
        ),
        "p.tf.json": (
            '{"resource": {"terraform_data": {"j": {"provisioner": '
            '[{"remote-exec": {"inline": ["id"]}}]}}}}\n'
        ),
    }
    found = _found(tmp_path, files)
    assert [f.split(": provisioner", 1)[0] for f in found] == [
        "main.tf:2: terraform_data.x",
        "main.tf:9: removed block",
        "p.tf.json:1: terraform_data.j",
    ]
    assert all("removed blocks included" in f for f in found)
    assert _found(tmp_path / "allowed", files, allow_provisioners=True) == []


def test_providers_state_backends_overrides_and_module_sources(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    found = _found(
        tmp_path,
        {
            "main.tf": (
                "terraform {\n  required_providers {\n"
                '    evil = { source = "someone/evil" }\n  }\n  backend "local" {}\n}\n'
                'data "external" "run" { program = ["id"] }\n'
                'check "c" {\n  data "http" "h" { url = "http://169.254.169.254/" }\n}\n'
                'provider "local" {}\n'
                'data "terraform_remote_state" "other" { backend = "s3" }\n'
                'module "remote" { source = "git::https://example.com/x.git" }\n'
                'module "registry" {\n  source  = "terraform-aws-modules/vpc/aws"\n'
                '  version = "5.0.0"\n}\n'
                'module "outside" { source = "../outside" }\n'
                'module "inner" { source = "./inner" }\n'
            ),
            "inner/main.tf": 'terraform {\n  cloud {\n    organization = "x"\n  }\n}\n',
            "backend_override.tf": 'terraform {\n  backend "s3" { bucket = "mine" }\n}\n',
        },
    )
    expected = [
        "main.tf:3: provider registry.terraform.io/someone/evil is not allowed",
        'main.tf:5: backend "local" is not allowed',
        "main.tf:7: data.external.run: provider registry.terraform.io/hashicorp/external is not",
        "main.tf:9: data.http.h: provider registry.terraform.io/hashicorp/http is not allowed",
        "main.tf:11: provider registry.terraform.io/hashicorp/local is not allowed",
        "main.tf:12: data.terraform_remote_state.other: reading another Terraform state",
        "main.tf:13: module remote: only local module sources (./...) are allowed",
        "main.tf:14: module registry: only local module sources (./...) are allowed",
        "main.tf:18: module outside: source '../outside' is not a folder inside the bundle",
        "backend_override.tf:1: override files are not allowed in a bundle",
        "inner/main.tf:2: a cloud block is not allowed",
    ]
    assert len(found) == len(expected), found
    for want in expected:
        assert any(f.startswith(want) for f in found), (want, found)


def test_an_unreadable_file_is_refused_with_its_line(tmp_path: Path) -> None:
    # (The job adds Terraform's own words, from its loader in a child process: functional.)
    policy = BundlePolicy(explain_syntax_errors=False)
    root = _write(tmp_path / "b", {"main.tf": 'resource "x" "y" {\n  a = \n}\n'})
    with pytest.raises(PolicyCheckError, match=r"main\.tf:\d+: could not read"):
        check_bundle(root, policy)
    root = _write(tmp_path / "j", {"main.tf.json": "{not json"})
    with pytest.raises(PolicyCheckError, match=r"main\.tf\.json: could not read"):
        check_bundle(root, policy)


def test_unknowable_paths_are_left_to_the_sandbox(tmp_path: Path) -> None:
    # A path only known at apply time cannot be judged here; inside the sandbox the
    # runner's files do not exist (tests/functional/sandbox).
    assert (
        _found(
            tmp_path,
            {
                "main.tf": (
                    'resource "terraform_data" "x" { input = "a" }\n'
                    'output "x" { value = file(terraform_data.x.output) }\n'
                    'output "y" { value = file("${path.module}/files/${terraform_data.x.id}") }\n'
                )
            },
        )
        == []
    )
