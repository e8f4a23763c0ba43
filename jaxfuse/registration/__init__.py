"""Rigid PET-to-MRI registration by Mattes mutual information, in JAX (the paper's step 1).

Public API::

    transform, report = register_rigid(mri, pet, fixed_affine=a_mri, moving_affine=a_pet)
    transforms, reports = register_rigid_batch(mri_slices, pet_slices)   # one vmap
    mutual_information(fixed, moving)                                    # Mattes MI, nats

``transform`` is a ``[d+1, d+1]`` homogeneous matrix mapping fixed (MRI) world mm to moving (PET)
world mm (RAS in 3-D).
"""

from __future__ import annotations

from jaxfuse.registration.moments import centre_of_mass, rms_radius
from jaxfuse.registration.mutual_information import joint_histogram, mattes_mutual_information, mutual_information
from jaxfuse.registration.pyramid import gaussian_blur, gaussian_pyramid
from jaxfuse.registration.register import RegistrationReport, RigidOptions, register_rigid, register_rigid_batch
from jaxfuse.registration.rigid import displacement, rigid_matrix, rigid_parameters, rotation_matrix

__all__ = [
    "RegistrationReport",
    "RigidOptions",
    "centre_of_mass",
    "displacement",
    "gaussian_blur",
    "gaussian_pyramid",
    "joint_histogram",
    "mattes_mutual_information",
    "mutual_information",
    "register_rigid",
    "register_rigid_batch",
    "rigid_matrix",
    "rigid_parameters",
    "rms_radius",
    "rotation_matrix",
]
