"""``features.cluster`` / ``features.slurm``: typed, bounded settings, refused in one line, and
the Slurm job dask-jobqueue would submit for them (no Slurm needed: the script is only built)."""

from __future__ import annotations

import pytest

from moodflow.core.config import build
from moodflow.core.errors import SettingsError
from moodflow.extract.distributed import slurm_cluster_options
from moodflow.extract.settings import FeaturesSettings, SlurmSettings


@pytest.mark.parametrize("values, needle", [
    ({"cluster": "slurmm"}, "features.cluster: 'slurmm' is not allowed (did you mean 'slurm'?)"),
    ({"slurm": {"cores": 0}}, "features.slurm.cores: 0 is below the minimum 1"),
    ({"slurm": {"jobs": 2.5}}, "features.slurm.jobs: 2.5 is not an integer"),
    ({"slurm": {"memory": "lots"}}, "memory: 'lots' is not an amount like 4GB"),
    ({"slurm": {"walltime": "1 hour"}}, "walltime: '1 hour' is not a duration like 01:30:00"),
    ({"slurm": {"walltime": "00:00:00"}}, "is not a duration"),
    ({"slurm": {"job_extra_directives": "--requeue"}},
     "features.slurm.job_extra_directives: '--requeue' is not a list"),
    ({"slurm": {"partition": "cpu"}}, "features.slurm.partition: unknown setting"),
])
def test_bad_cluster_settings_are_one_line(values, needle):
    with pytest.raises(SettingsError) as err:
        build(FeaturesSettings, values, "features")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_walltimes_as_yaml_gives_them():
    assert build(SlurmSettings, {"walltime": 5400}, "s").walltime == "01:30:00"  # YAML 1.1 reads 01:30:00 so
    assert build(SlurmSettings, {"walltime": "2-00:00:00"}, "s").walltime_s() == 2 * 86400
    assert build(SlurmSettings, {"memory": "512MB"}, "s").memory == "512MB"


def test_the_job_script_carries_every_setting(tmp_path):
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    settings = build(SlurmSettings, {
        "cores": 4, "memory": "8GB", "walltime": "02:00:00", "queue": "cpu", "account": "lab",
        "job_extra_directives": ["--requeue", "--qos=low"], "prologue": ["source /shared/venv/bin/activate"],
    }, "features.slurm")
    cluster = dask_jobqueue.SLURMCluster(**slurm_cluster_options(settings, tmp_path / "logs"))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH --cpus-per-task=4", "#SBATCH -p cpu", "#SBATCH -A lab", "#SBATCH -t 02:00:00",
                 "#SBATCH --requeue", "#SBATCH --qos=low", "source /shared/venv/bin/activate",
                 f"#SBATCH -o {tmp_path / 'logs'}"):
        assert line in script, script
    assert "--nworkers 4" in script and "--nthreads 1" in script  # single-threaded workers
    assert "--lifetime 6900s" in script  # leaves 5 minutes before the 2 h walltime
    assert "#SBATCH --mem=" in script
