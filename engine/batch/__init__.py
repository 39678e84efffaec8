"""batch/: many scenes, block by block, on Ray.

job   the job file (JOB.json): typed, checked, written atomically (standard library only)
run   run_batch on Ray: blocks, workers, manifests for resuming, mosaics (the one module that imports ray)
cli   `python -m engine batch`
"""
