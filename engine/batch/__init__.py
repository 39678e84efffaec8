"""batch/: many scenes, block by block, on Ray.

job      the job file (JOB.json): typed, checked, written atomically (standard library only)
blocks   a block on disk: its task, fingerprint and manifest; what a rerun may reuse
worker   the worker: one opened model, its blocks through the engine's writers (imports no ray)
lock     one driver per job: a lock file, a second driver refused (the Windows branch tested)
run      run_batch on Ray: workers, dispatch, mosaics (the one module that imports ray)
summary  what a run reports: scenes, blocks, throughput
cli      `python -m engine batch`
"""
