"""Checkpoint forensics: what the saved weights and optimizer state say about a training run.

    diagnose checkpoint run/step-100.pt run/step-200.pt
    diagnose hessian --model mypkg.model:build --checkpoint run/final.pt --data batch.pt

Only this package imports torch, and only to unpickle `.pt` files (with weights_only=True) and
for the Hessian; safetensors files are read without it. `import diagnose` never loads torch.
"""
